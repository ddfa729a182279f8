#pragma once
// What the report concludes from the runs: medians per scenario over the rounds, each run
// compared with a run of the same round, and the performance targets.

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "bench/bench_report.h"

namespace sluice::bench {

// One throughput scenario over all rounds: medians of its runs and, for sluice, of the ratios
// to the bare run of the same round (only rounds where both completed).
struct ThroughputSummary {
  std::string scenario;
  int runs = 0;
  double rate = 0;                  // input messages/s
  double subject_us_per_message = 0;  // CPU µs of the process under test per input message
  double subject_us_min = 0, subject_us_max = 0;
  double redis_us_per_message = -1;  // < 0: no Redis in this scenario
  int compared = 0;                  // rounds with a bare run to compare with
  double vs_bare = 0, vs_bare_min = 0, vs_bare_max = 0;
  // CPU µs per message over the bare run's of the same round (the same rounds as vs_bare).
  double cpu_vs_bare = 0, cpu_vs_bare_min = 0, cpu_vs_bare_max = 0;
  int64_t subject_peak_rss = 0;  // the highest of its runs, bytes
  // Medians over the runs that measured each figure; samples counts the runs whose counters
  // were scraped at both ends.
  PipelineWaits waits;
};

std::vector<ThroughputSummary> summarize_throughput(const std::vector<ThroughputResult>& results);

// One latency subject over all rounds: medians of its runs and, for sluice, of the
// differences from the bare run of the same round (only rounds where both completed).
struct LatencySummary {
  std::string scenario;
  int runs = 0;
  double p50_ms = 0, p99_ms = 0, p999_ms = 0;
  int compared = 0;  // rounds with a bare run to compare with
  double p50_minus_bare_ms = 0, p99_minus_bare_ms = 0;
  double p99_minus_bare_min_ms = 0, p99_minus_bare_max_ms = 0;
};

std::vector<LatencySummary> summarize_latency(const std::vector<LatencyResult>& results);

// A performance target, judged from the summaries.
struct TargetResult {
  std::string name;
  std::string target;  // as the report states it
  std::string how;     // how the value is computed
  double threshold = 0;
  bool at_most = false;  // the value must be at most the threshold (else at least)
  bool measured = false;
  double value = 0;
  std::string value_text;  // the value with its unit
  bool reached = false;
  // Not measured: why not; measured: what the value is made of (shown when not reached).
  std::string why;
  std::string status() const {
    if (!measured) return "not measured (" + why + ")";
    if (reached) return "reached";
    return why.empty() ? "not reached" : "not reached: " + why;
  }
};

std::vector<TargetResult> evaluate_targets(const Report& report);

// CPU seconds per million input messages, which is CPU µs per message.
inline double us_per_message(double cpu_seconds, int64_t messages) {
  return messages > 0 ? cpu_seconds * 1e6 / static_cast<double>(messages) : 0;
}

// The completed run of `scenario` in `round`, if any.
template <typename Result>
const Result* run_in_round(const std::vector<Result>& results, const std::string& scenario, int round) {
  for (const Result& result : results) {
    if (result.scenario == scenario && result.round == round && result.ok) return &result;
  }
  return nullptr;
}

template <typename Result>
const Result* bare_in_round(const std::vector<Result>& results, int round) {
  return run_in_round(results, "bare", round);
}

// The scenarios in the order they first appear.
template <typename Result>
std::vector<std::string> scenario_order(const std::vector<Result>& results) {
  std::vector<std::string> order;
  for (const Result& result : results) {
    if (std::find(order.begin(), order.end(), result.scenario) == order.end()) order.push_back(result.scenario);
  }
  return order;
}

}  // namespace sluice::bench
