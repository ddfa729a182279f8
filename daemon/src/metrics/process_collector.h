#pragma once
// The standard process_* metrics (CPU time, memory, file descriptors, start time), read from
// /proc/self when Prometheus scrapes: prometheus-cpp has no process collector of its own.
//
// Threading: Collect() runs on the admin server's thread at each scrape; it keeps no state,
// so concurrent scrapes are fine.

#include <optional>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

namespace sluice::metrics {

struct ProcessStats {
  double cpu_seconds = 0;       // user + system
  double resident_bytes = 0;
  double virtual_bytes = 0;
  double open_fds = 0;
  double max_fds = 0;
  double start_time_seconds = 0;  // since the epoch
};

// This process's figures; nullopt when /proc is not mounted (then the process_* families are
// left out of the scrape rather than reported as zeros).
std::optional<ProcessStats> read_process_stats();

class ProcessCollector final : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override;
};

}  // namespace sluice::metrics
