#include "admin/health.h"

namespace sluice::admin {

void HealthState::set_connectivity(bool member, const std::string& group_why, bool reached,
                                   const std::string& broker_why) {
  {
    std::lock_guard<std::mutex> lock(detail_mutex_);
    group_detail_ = group_why;
    broker_detail_ = broker_why;
  }
  in_group.store(member);
  brokers_reached.store(reached);
}

std::string HealthState::describe() const {
  std::string out;
  auto line = [&](const char* check, bool ok, const std::string& detail = "") {
    out += std::string("[") + (ok ? "+" : "-") + "]" + check + (ok ? " ok" : " failed");
    if (!detail.empty()) out += " (" + detail + ")";
    out += "\n";
  };
  std::string group_why;
  std::string broker_why;
  {
    std::lock_guard<std::mutex> lock(detail_mutex_);
    group_why = group_detail_;
    broker_why = broker_detail_;
  }
  line("started", started.load());
  line("group joined", joined.load());
  line("in group", in_group.load(), in_group.load() ? "" : group_why);
  line("brokers reached", brokers_reached.load(), brokers_reached.load() ? "" : broker_why);
  line("not draining", !draining.load());
  int64_t stalled = stalled_partitions.load();
  line("no stalled partition", stalled == 0, stalled > 0 ? std::to_string(stalled) + " stalled" : "");
  line("dedup store", !dedup_store_failing.load());
  line("event loop alive", live());
  return out;
}

}  // namespace sluice::admin
