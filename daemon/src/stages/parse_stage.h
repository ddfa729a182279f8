#pragma once
// Parses the record value into the message's document (strict and depth-bounded, see
// json/json_parser.h) and reads `channel` and `message_type` from it. Anything that is not
// one JSON object, including a tombstone, is dead-lettered as `invalid_json` with the
// parser's reason.
//
// Threading: one instance per worker thread; the parser is reused for every message.

#include <string_view>

#include "json/json_parser.h"
#include "stages/stage.h"

namespace sluice::stages {

class ParseStage final : public Stage {
 public:
  explicit ParseStage(int max_json_depth);

  // Stage
  std::string_view name() const override { return "parse"; }
  StageResult process(MessageContext& message) override;

 private:
  json::JsonParser parser_;
};

}  // namespace sluice::stages
