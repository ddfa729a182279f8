#include "stages/parse_stage.h"

#include <cstdio>
#include <utility>

namespace sluice::stages {

ParseStage::ParseStage(int max_json_depth, config::ValueFraming framing)
    : parser_(max_json_depth), confluent_framing_(framing == config::ValueFraming::Confluent) {}

StageResult ParseStage::unframe(MessageContext& message) const {
  const std::string_view value = message.value;
  if (value.size() < kConfluentHeaderBytes) {
    return StageResult::dead_letter(Reason::InvalidFraming,
                                    "value of " + std::to_string(value.size()) +
                                        " bytes, shorter than the 5-byte Confluent wire-format header");
  }
  if (value[0] != '\0') {
    char detail[96];
    std::snprintf(detail, sizeof detail, "first byte 0x%02x, not the Confluent wire-format magic byte 0x00",
                  static_cast<unsigned>(static_cast<unsigned char>(value[0])));
    return StageResult::dead_letter(Reason::InvalidFraming, detail);
  }
  message.payload = value.substr(kConfluentHeaderBytes);
  return StageResult::next();
}

StageResult ParseStage::process(MessageContext& message) {
  message.channel = {};
  message.message_type = {};
  if (message.value_is_null) return StageResult::dead_letter(Reason::InvalidJson, "null value (tombstone)");
  if (confluent_framing_) {
    StageResult framing = unframe(message);
    if (framing.verdict != Verdict::Continue) return framing;
  }
  json::ParseOutcome outcome = parser_.parse(message.payload, message.document);
  if (!outcome.ok) return StageResult::dead_letter(Reason::InvalidJson, std::move(outcome.error));
  const json::Value& root = message.document.root();
  message.channel = json::get_string(root, "channel");
  message.message_type = json::get_string(root, "message_type");
  return StageResult::next();
}

}  // namespace sluice::stages
