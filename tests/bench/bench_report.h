#pragma once
// What sluice-bench measured, and the two forms scripts/bench publishes it in: Markdown
// for people and JSON for comparing runs.

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace sluice::bench {

// sluice's pipeline steps as its metrics name them, in the order a record meets them.
inline constexpr std::array<const char*, 9> kPipelineSteps = {
    "staging", "held", "dedup", "waiting_on_peer", "queued", "forwarding", "retrying", "dead_lettering", "rejecting"};

// Where sluice's records waited during a run's timed interval, from its /metrics: the step
// counters scraped at the start and at the end, the gauges sampled in between.
struct PipelineWaits {
  bool measured = false;  // false: not sluice, or the scrape at the start or the end failed
  // Mean time in the step of the records that left it in the interval (Δseconds / Δrecords);
  // only steps that records left.
  std::map<std::string, double> step_ms;
  // Mean of the records-by-step gauge over the samples; empty without samples.
  std::map<std::string, double> step_records;
  double intake_stopped_share = 0;  // of the interval between the two scrapes
  int64_t peak_in_flight = -1;      // highest sampled in-flight records; < 0: no sample
  int samples = 0;                  // gauge samples that answered
};

struct ThroughputResult {
  std::string scenario;  // "bare", "sluice memory", ...
  int round = 1;         // the scenarios take turns, round after round
  std::string what;      // one line: what ran and where it delivered
  bool ok = false;
  std::string error;     // why the run failed, when !ok
  int64_t input_messages = 0;
  int64_t input_bytes = 0;
  int64_t outputs = 0;          // records (or HTTP requests) that arrived downstream
  double seconds = 0;           // from the group join until every output had arrived
  double steady_rate = 0;       // input messages/s between 10% and 90% of the outputs
  double subject_cpu_seconds = 0;  // the process under test (sluice or the bare copy)
  double broker_cpu_seconds = 0;
  double redis_cpu_seconds = -1;   // < 0: no Redis in this scenario
  int64_t subject_peak_rss = 0;    // VmHWM, bytes
  int64_t broker_peak_rss = 0;
  // The subject's CPU seconds over the same interval by thread name, largest first (threads
  // that ended within the interval are missing here, not from subject_cpu_seconds).
  std::vector<std::pair<std::string, double>> subject_thread_cpu_seconds;
  PipelineWaits waits;  // sluice only

  double rate() const { return seconds > 0 ? static_cast<double>(input_messages) / seconds : 0; }
};

struct LatencyResult {
  std::string scenario;
  int round = 1;  // the subjects take turns, round after round
  bool ok = false;
  std::string error;
  double rate = 0;      // messages/s offered
  double seconds = 0;   // how long they were offered
  int64_t sent = 0;
  int64_t expected = 0;  // outputs the sent records must produce
  int64_t received = 0;
  int64_t measured = 0;  // received records sent after the warm-up
  double p50_ms = 0, p99_ms = 0, p999_ms = 0, max_ms = 0;
  double subject_cpu_share = 0;  // CPU seconds of the process under test per wall second
  double broker_cpu_share = 0;   // the same for the broker: near 1, it is what is measured
};

struct MicroResult {
  std::string name;
  double ns_per_item = 0;      // CPU time per message
  double items_per_second = 0;
  std::string error;
};

struct Report {
  std::string started_at;  // UTC, ISO 8601
  std::string machine;     // CPU model and count
  std::string librdkafka;
  int64_t messages = 0;    // per throughput scenario
  double average_bytes = 0;
  std::string mix;         // the mix's composition, one line
  std::vector<ThroughputResult> throughput;
  std::vector<LatencyResult> latency;
  std::vector<MicroResult> micro;
  int64_t idle_rss = -1;   // VmRSS of sluice on the default config, joined and idle; bytes
  std::vector<std::string> notes;
};

std::string to_markdown(const Report& report);
std::string to_json(const Report& report);

// Google Benchmark's JSON output (--benchmark_out_format=json); throws when unreadable.
std::vector<MicroResult> read_microbench_json(const std::string& path);

}  // namespace sluice::bench
