#include "admin/health.h"

namespace sluice::admin {

std::string HealthState::describe() const {
  std::string out;
  auto line = [&](const char* check, bool ok, const std::string& detail = "") {
    out += std::string("[") + (ok ? "+" : "-") + "]" + check + (ok ? " ok" : " failed");
    if (!detail.empty()) out += " (" + detail + ")";
    out += "\n";
  };
  line("started", started.load());
  line("group joined", joined.load());
  line("not draining", !draining.load());
  int64_t stalled = stalled_partitions.load();
  line("no stalled partition", stalled == 0, stalled > 0 ? std::to_string(stalled) + " stalled" : "");
  line("event loop alive", live());
  return out;
}

}  // namespace sluice::admin
