#include "stages/parse_stage.h"

#include <utility>

namespace sluice::stages {

ParseStage::ParseStage(int max_json_depth) : parser_(max_json_depth) {}

StageResult ParseStage::process(MessageContext& message) {
  message.channel = {};
  message.message_type = {};
  if (message.value_is_null) return StageResult::dead_letter(Reason::InvalidJson, "null value (tombstone)");
  json::ParseOutcome outcome = parser_.parse(message.value, message.document);
  if (!outcome.ok) return StageResult::dead_letter(Reason::InvalidJson, std::move(outcome.error));
  const json::Value& root = message.document.root();
  message.channel = json::get_string(root, "channel");
  message.message_type = json::get_string(root, "message_type");
  return StageResult::next();
}

}  // namespace sluice::stages
