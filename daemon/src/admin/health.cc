#include "admin/health.h"

namespace sluice::admin {

void HealthState::set_connectivity(bool member, bool reached, const std::string& detail) {
  {
    std::lock_guard<std::mutex> lock(detail_mutex_);
    connectivity_detail_ = detail;
  }
  in_group.store(member);
  brokers_reached.store(reached);
}

std::string HealthState::connectivity_detail() const {
  std::lock_guard<std::mutex> lock(detail_mutex_);
  return connectivity_detail_;
}

std::string HealthState::describe() const {
  std::string out;
  auto line = [&](const char* check, bool ok, const std::string& detail = "") {
    out += std::string("[") + (ok ? "+" : "-") + "]" + check + (ok ? " ok" : " failed");
    if (!detail.empty()) out += " (" + detail + ")";
    out += "\n";
  };
  const std::string why = connectivity_detail();
  line("started", started.load());
  line("group joined", joined.load());
  line("in group", in_group.load(), in_group.load() ? "" : why);
  line("brokers reached", brokers_reached.load(), brokers_reached.load() ? "" : why);
  line("not draining", !draining.load());
  int64_t stalled = stalled_partitions.load();
  line("no stalled partition", stalled == 0, stalled > 0 ? std::to_string(stalled) + " stalled" : "");
  line("dedup store ok", !dedup_store_failing.load());
  line("event loop alive", live());
  return out;
}

}  // namespace sluice::admin
