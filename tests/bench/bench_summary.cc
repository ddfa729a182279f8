#include "bench/bench_summary.h"

#include <cstdio>
#include <optional>

namespace sluice::bench {
namespace {

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t middle = values.size() / 2;
  return values.size() % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
}

// Median, lowest and highest of `values` into the three outputs (left alone when empty).
void spread(const std::vector<double>& values, double& middle, double& lowest, double& highest) {
  if (values.empty()) return;
  middle = median(values);
  lowest = *std::min_element(values.begin(), values.end());
  highest = *std::max_element(values.begin(), values.end());
}

// Medians of the runs' pipeline waits, each figure over the runs that measured it.
PipelineWaits median_waits(const std::vector<const PipelineWaits*>& runs) {
  std::map<std::string, std::vector<double>> step_ms, step_records;
  std::vector<double> stopped, peaks;
  PipelineWaits waits;
  for (const PipelineWaits* run : runs) {
    for (const auto& [step, ms] : run->step_ms) step_ms[step].push_back(ms);
    for (const auto& [step, records] : run->step_records) step_records[step].push_back(records);
    if (run->measured) {
      stopped.push_back(run->intake_stopped_share);
      ++waits.samples;
    }
    if (run->peak_in_flight >= 0) peaks.push_back(static_cast<double>(run->peak_in_flight));
  }
  for (const auto& [step, values] : step_ms) waits.step_ms[step] = median(values);
  for (const auto& [step, values] : step_records) waits.step_records[step] = median(values);
  waits.measured = !stopped.empty();
  waits.intake_stopped_share = median(stopped);
  if (!peaks.empty()) waits.peak_in_flight = static_cast<int64_t>(median(peaks));
  return waits;
}

const ThroughputSummary* find_summary(const std::vector<ThroughputSummary>& summaries, const std::string& scenario) {
  for (const ThroughputSummary& summary : summaries) {
    if (summary.scenario == scenario && summary.runs > 0) return &summary;
  }
  return nullptr;
}

// The summary of sluice memory when a round had a bare run to compare it with; else null, and why.
const ThroughputSummary* memory_against_bare(const std::vector<ThroughputSummary>& summaries, std::string& why) {
  const ThroughputSummary* memory = find_summary(summaries, "sluice memory");
  if (memory != nullptr && memory->compared > 0) return memory;
  why = "no completed sluice memory run with a bare run in its round";
  return nullptr;
}

// Where a scenario's CPU per message goes, as the mean over its completed runs by kind of
// thread: "engine thread 2.4 + stage thread 1.2 + librdkafka 1.4 µs per message".
std::string cpu_breakdown(const Report& report, const std::string& scenario) {
  std::map<std::string, double> seconds;  // kind → CPU seconds over all runs
  int64_t messages = 0;
  for (const ThroughputResult& result : report.throughput) {
    if (result.scenario != scenario || !result.ok) continue;
    messages += result.input_messages;
    for (const auto& [thread, used] : result.subject_thread_cpu_seconds) {
      const std::string kind = thread == "sluice"                 ? "engine thread"
                               : thread == "sluice-stages"        ? "stage thread"
                               : thread.rfind("rdk:", 0) == 0     ? "librdkafka"
                               : thread == "sluice-sqlite"        ? "SQLite writer"
                               : thread == "sluice-bench"         ? "copy loop"
                               : thread.rfind("sluice-http", 0) == 0 ? "HTTP thread"
                                                                    : "other";
      seconds[kind] += used;
    }
  }
  if (messages == 0) return "";
  std::vector<std::pair<double, std::string>> parts;
  for (const auto& [kind, used] : seconds) parts.emplace_back(used * 1e6 / static_cast<double>(messages), kind);
  std::sort(parts.rbegin(), parts.rend());
  std::string text;
  char part[64];
  for (const auto& [us, kind] : parts) {
    if (us < 0.05) continue;
    std::snprintf(part, sizeof part, "%s%s %.2f", text.empty() ? "" : " + ", kind.c_str(), us);
    text += part;
  }
  return text + " µs per message";
}

// The median over the rounds of `scenario`'s rate / `against`'s in the same round; none (and
// why) when no round had both.
std::optional<double> median_ratio_in_rounds(const Report& report, const std::string& scenario,
                                             const std::string& against, std::string& why) {
  std::vector<double> ratios;
  for (const ThroughputResult& result : report.throughput) {
    if (result.scenario != scenario || !result.ok) continue;
    const ThroughputResult* other = run_in_round(report.throughput, against, result.round);
    if (other != nullptr && other->rate() > 0) ratios.push_back(result.rate() / other->rate());
  }
  if (ratios.empty()) {
    why = "no completed " + scenario + " run with a " + against + " run in its round";
    return std::nullopt;
  }
  return median(ratios);
}

using Measure = std::optional<double> (*)(const Report&, const std::vector<ThroughputSummary>&, std::string& why);

// A target: the value `measure` finds must be at least (or at most) `threshold`.
struct TargetSpec {
  const char* name;
  const char* target;
  double threshold;
  bool at_most;
  const char* value_format;  // printf pattern for the value
  const char* how;
  Measure measure;
};

constexpr int64_t kMillion = 1'000'000;

// The targets sluice is measured against; each value comes from the summaries of this report.
const TargetSpec kTargets[] = {
    {"memory-vs-bare", "sluice memory ≥ 90 % of bare", 0.90, false, "%.2f × bare",
     "median over the rounds of sluice memory's rate / the bare run's of the same round",
     [](const Report& report, const std::vector<ThroughputSummary>& summaries, std::string& why) -> std::optional<double> {
       const ThroughputSummary* memory = memory_against_bare(summaries, why);
       if (memory == nullptr) return std::nullopt;
       // Both saturate the same CPUs with the broker, so the rate follows CPU per message.
       why = "both are CPU-bound on the same CPUs; sluice: " + cpu_breakdown(report, "sluice memory") +
             ", bare: " + cpu_breakdown(report, "bare");
       return memory->vs_bare;
     }},
    {"memory-cpu-vs-bare", "sluice memory's CPU per message ≤ 2 × bare's", 2.0, true, "%.2f × bare",
     "median over the rounds of sluice memory's CPU µs per message / the bare run's of the same round",
     [](const Report& report, const std::vector<ThroughputSummary>& summaries, std::string& why) -> std::optional<double> {
       const ThroughputSummary* memory = memory_against_bare(summaries, why);
       if (memory == nullptr) return std::nullopt;
       why = "sluice: " + cpu_breakdown(report, "sluice memory") + ", bare: " + cpu_breakdown(report, "bare");
       return memory->cpu_vs_bare;
     }},
    {"redis-per-core", "Redis dedup ≥ 150 000 msgs/s per core of sluice CPU", 150'000, false, "%.0f msgs/s per core",
     "1e6 / sluice redis's median CPU µs per message (sluice's own CPU; Redis's is not counted)",
     [](const Report& report, const std::vector<ThroughputSummary>& summaries, std::string& why) -> std::optional<double> {
       const ThroughputSummary* redis = find_summary(summaries, "sluice redis");
       if (redis == nullptr || redis->subject_us_per_message <= 0) {
         why = "no completed sluice redis run";
         return std::nullopt;
       }
       why = "sluice redis: " + cpu_breakdown(report, "sluice redis");
       return 1e6 / redis->subject_us_per_message;
     }},
    {"exactly-once-vs-at-least-once", "exactly-once ≥ 50 % of at-least-once", 0.50, false, "%.2f × at-least-once",
     "median over the rounds of sluice exactly-once's rate / sluice memory's of the same round",
     [](const Report& report, const std::vector<ThroughputSummary>&, std::string& why) -> std::optional<double> {
       return median_ratio_in_rounds(report, "sluice exactly-once", "sluice memory", why);
     }},
    {"http-batched-vs-bare", "HTTP batched ≥ 80 % of bare copy's rate", 0.80, false, "%.2f × bare",
     "median over the rounds of sluice http batched's rate / the bare run's of the same round",
     [](const Report& report, const std::vector<ThroughputSummary>&, std::string& why) -> std::optional<double> {
       std::optional<double> ratio = median_ratio_in_rounds(report, "sluice http batched", "bare", why);
       if (ratio) why = "sluice http batched: " + cpu_breakdown(report, "sluice http batched");
       return ratio;
     }},
    {"key-order-vs-none", "retry.ordering: key ≥ 95 % of none (no failures)", 0.95, false, "%.2f × none",
     "median over the rounds of sluice key order's rate / sluice memory's of the same round",
     [](const Report& report, const std::vector<ThroughputSummary>&, std::string& why) -> std::optional<double> {
       return median_ratio_in_rounds(report, "sluice key order", "sluice memory", why);
     }},
    {"peak-rss-defaults", "peak RSS of sluice on the defaults ≤ 256 MiB", 256, true, "%.1f MiB",
     "the highest VmHWM in MiB of the sluice memory, sqlite and redis runs with at least 1 000 000 records",
     [](const Report& report, const std::vector<ThroughputSummary>&, std::string& why) -> std::optional<double> {
       int64_t highest = -1;
       int64_t largest_run = 0;
       for (const ThroughputResult& result : report.throughput) {
         if (result.scenario != "sluice memory" && result.scenario != "sluice sqlite" &&
             result.scenario != "sluice redis") {
           continue;
         }
         largest_run = std::max(largest_run, result.input_messages);
         if (result.ok && result.input_messages >= kMillion) highest = std::max(highest, result.subject_peak_rss);
       }
       if (highest > 0) return static_cast<double>(highest) / (1024.0 * 1024.0);
       if (largest_run == 0) {
         why = "no sluice memory, sqlite or redis run";
       } else if (largest_run < kMillion) {
         why = std::to_string(largest_run) + " records per run; the target is for the 1 M run";
       } else {
         why = "no completed run of 1 M records";
       }
       return std::nullopt;
     }},
};

}  // namespace

std::vector<ThroughputSummary> summarize_throughput(const std::vector<ThroughputResult>& results) {
  std::vector<ThroughputSummary> summaries;
  for (const std::string& scenario : scenario_order(results)) {
    ThroughputSummary summary;
    summary.scenario = scenario;
    std::vector<double> rates, subject_us, redis_us, ratios, cpu_ratios;
    std::vector<const PipelineWaits*> waits;
    for (const ThroughputResult& result : results) {
      if (result.scenario != scenario || !result.ok) continue;
      rates.push_back(result.rate());
      const double us = us_per_message(result.subject_cpu_seconds, result.input_messages);
      subject_us.push_back(us);
      if (result.redis_cpu_seconds >= 0) {
        redis_us.push_back(us_per_message(result.redis_cpu_seconds, result.input_messages));
      }
      summary.subject_peak_rss = std::max(summary.subject_peak_rss, result.subject_peak_rss);
      waits.push_back(&result.waits);
      const ThroughputResult* bare = bare_in_round(results, result.round);
      if (bare == nullptr || bare->rate() <= 0) continue;
      ratios.push_back(result.rate() / bare->rate());
      const double bare_us = us_per_message(bare->subject_cpu_seconds, bare->input_messages);
      if (bare_us > 0) cpu_ratios.push_back(us / bare_us);
    }
    summary.runs = static_cast<int>(rates.size());
    summary.rate = median(rates);
    spread(subject_us, summary.subject_us_per_message, summary.subject_us_min, summary.subject_us_max);
    if (!redis_us.empty()) summary.redis_us_per_message = median(redis_us);
    summary.compared = static_cast<int>(ratios.size());
    spread(ratios, summary.vs_bare, summary.vs_bare_min, summary.vs_bare_max);
    spread(cpu_ratios, summary.cpu_vs_bare, summary.cpu_vs_bare_min, summary.cpu_vs_bare_max);
    summary.waits = median_waits(waits);
    summaries.push_back(summary);
  }
  return summaries;
}

std::vector<LatencySummary> summarize_latency(const std::vector<LatencyResult>& results) {
  std::vector<LatencySummary> summaries;
  for (const std::string& scenario : scenario_order(results)) {
    LatencySummary summary;
    summary.scenario = scenario;
    std::vector<double> p50, p99, p999, p50_delta, p99_delta;
    for (const LatencyResult& result : results) {
      if (result.scenario != scenario || !result.ok) continue;
      p50.push_back(result.p50_ms);
      p99.push_back(result.p99_ms);
      p999.push_back(result.p999_ms);
      const LatencyResult* bare = scenario == "bare" ? nullptr : bare_in_round(results, result.round);
      if (bare == nullptr) continue;
      p50_delta.push_back(result.p50_ms - bare->p50_ms);
      p99_delta.push_back(result.p99_ms - bare->p99_ms);
    }
    summary.runs = static_cast<int>(p50.size());
    summary.p50_ms = median(p50);
    summary.p99_ms = median(p99);
    summary.p999_ms = median(p999);
    summary.compared = static_cast<int>(p99_delta.size());
    summary.p50_minus_bare_ms = median(p50_delta);
    spread(p99_delta, summary.p99_minus_bare_ms, summary.p99_minus_bare_min_ms, summary.p99_minus_bare_max_ms);
    summaries.push_back(summary);
  }
  return summaries;
}

std::vector<TargetResult> evaluate_targets(const Report& report) {
  const std::vector<ThroughputSummary> summaries = summarize_throughput(report.throughput);
  std::vector<TargetResult> results;
  for (const TargetSpec& spec : kTargets) {
    TargetResult result;
    result.name = spec.name;
    result.target = spec.target;
    result.how = spec.how;
    result.threshold = spec.threshold;
    result.at_most = spec.at_most;
    if (std::optional<double> value = spec.measure(report, summaries, result.why)) {
      result.measured = true;
      result.value = *value;
      result.reached = spec.at_most ? *value <= spec.threshold : *value >= spec.threshold;
      char text[64];
      std::snprintf(text, sizeof text, spec.value_format, *value);
      result.value_text = text;
    }
    results.push_back(std::move(result));
  }
  return results;
}

}  // namespace sluice::bench
