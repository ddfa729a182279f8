#pragma once
// Dead-letters a record whose value is larger than pipeline.max_message_bytes (`too_large`).
// The size is that of the bytes received, before any parsing; a tombstone counts as empty.
//
// Threading: stateless after construction; one instance per worker like every stage.

#include <cstdint>
#include <string_view>

#include "stages/stage.h"

namespace sluice::stages {

class SizeStage final : public Stage {
 public:
  explicit SizeStage(int64_t max_message_bytes);

  // Stage
  std::string_view name() const override { return "size"; }
  StageResult process(MessageContext& message) override;

 private:
  uint64_t max_message_bytes_;
};

}  // namespace sluice::stages
