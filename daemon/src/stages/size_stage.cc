#include "stages/size_stage.h"

#include <string>

#include "common/assert.h"

namespace sluice::stages {

SizeStage::SizeStage(int64_t max_message_bytes) : max_message_bytes_(static_cast<uint64_t>(max_message_bytes)) {
  SLUICE_ASSERT(max_message_bytes > 0, "config validation guarantees a positive max_message_bytes");
}

StageResult SizeStage::process(MessageContext& message) {
  if (message.value.size() <= max_message_bytes_) return StageResult::next();
  return StageResult::dead_letter(Reason::TooLarge, "value is " + std::to_string(message.value.size()) +
                                                   " bytes, more than max_message_bytes " +
                                                   std::to_string(max_message_bytes_));
}

}  // namespace sluice::stages
