#pragma once
// Where sluice's records wait, read from its admin server's /metrics while a throughput run
// is timed.

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "bench/bench_report.h"
#include "bench/bench_setup.h"

namespace sluice::bench {

// Scrapes the counters when constructed (the start of the interval) and when finished (its
// end), and samples the step and in-flight gauges in between on a thread of its own, so a
// slow answer never delays the run loop's view of the outputs.
class PipelineSampler {
 public:
  explicit PipelineSampler(uint16_t admin_port);
  ~PipelineSampler();
  PipelineSampler(const PipelineSampler&) = delete;
  PipelineSampler& operator=(const PipelineSampler&) = delete;

  // Stops sampling and scrapes the end of the interval; measured is false when the scrape at
  // the start or at the end failed.
  PipelineWaits finish();

 private:
  struct Counters {
    bool ok = false;
    Clock::time_point at;
    std::map<std::string, double> step_seconds, step_records;
    double intake_stopped_seconds = 0;
  };

  Counters scrape_counters() const;
  void sample_loop();
  void stop_sampling();

  uint16_t port_;
  Counters start_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  // Guarded by mutex_ while the thread runs.
  std::map<std::string, double> gauge_sums_;
  int samples_ = 0;
  int64_t peak_in_flight_ = -1;
  std::thread thread_;
};

}  // namespace sluice::bench
