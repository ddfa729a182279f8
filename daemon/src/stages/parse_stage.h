#pragma once
// Parses the record value into the message's document (strict and depth-bounded, see
// json/json_parser.h) and reads `channel` and `message_type` from it. Anything that is not
// one JSON object, including a tombstone, is dead-lettered as `invalid_json` with the
// parser's reason.
//
// With pipeline.value_framing: confluent the value must start with the Confluent wire-format
// header (magic byte 0x00, a 4-byte big-endian schema id): the JSON after it is parsed and
// becomes the message's `payload`, which later stages and the fingerprint read; the value
// itself, header and all, is what is forwarded and dead-lettered. A value without the header
// is dead-lettered as `invalid_framing`.
//
// Threading: one instance per worker thread; the parser is reused for every message.

#include <string_view>

#include "config/config.h"
#include "json/json_parser.h"
#include "stages/stage.h"

namespace sluice::stages {

class ParseStage final : public Stage {
 public:
  explicit ParseStage(int max_json_depth, config::ValueFraming framing = config::ValueFraming::None);

  // Stage
  std::string_view name() const override { return "parse"; }
  StageResult process(MessageContext& message) override;

 private:
  // Points message.payload past the header; a verdict when there is none.
  StageResult unframe(MessageContext& message) const;

  json::JsonParser parser_;
  const bool confluent_framing_;
};

// The Confluent wire format's header: magic byte 0x00, then the schema id (big-endian).
inline constexpr size_t kConfluentHeaderBytes = 5;

}  // namespace sluice::stages
