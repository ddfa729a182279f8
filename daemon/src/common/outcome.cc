#include "common/outcome.h"

namespace sluice {

namespace {
// The table is indexed by Reason: each entry must sit at its own place.
constexpr bool in_order() {
  for (size_t i = 0; i < kReasons.size(); ++i) {
    if (static_cast<size_t>(kReasons[i].reason) != i) return false;
  }
  return true;
}
static_assert(in_order(), "kReasons is in Reason order");
}  // namespace

std::optional<Reason> reason_by_label(std::string_view label) {
  for (const ReasonInfo& info : kReasons) {
    if (info.label == label) return info.reason;
  }
  return std::nullopt;
}

}  // namespace sluice
