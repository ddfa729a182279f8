#pragma once
// Every metric sluice exports, declared once in kMetricTable (metrics.cc) with its type,
// help text and label names. Names follow sluice_<subsystem>_<what>_<unit> (the process_*
// ones follow Prometheus' standard names); labels are bounded (topics, routes and sinks from
// config, results and classes from fixed sets). Every family has its series from start-up,
// at zero: the code that knows a label set (from config or an enumeration) creates it at
// start, so increase() sees 0 → 1 and dashboards show 0 rather than "No data".
// docs/METRICS.md is rendered from the table (render_metrics_reference()).
//
// Threading: prometheus-cpp counters and gauges are atomic; the engine thread updates them,
// the admin server thread serializes them. Lookups of labelled children take a mutex inside
// prometheus-cpp, so hot paths cache the returned references (they stay valid for the
// registry's lifetime).

#include <array>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace sluice::metrics {

enum class MetricId {
  RecordsConsumed,
  Outcomes,
  DedupLookups,
  ProduceErrors,
  DlqEnvelopesTruncated,
  OffsetCommits,
  ConsumerErrors,
  InFlightRecords,
  InFlightBytes,
  PausedPartitions,
  AssignedPartitions,
  LastProgressTimestamp,
  BreakerState,
  BreakerTransitions,
  BreakerWaitingRecords,
  HttpConnectionsOpened,
  HttpRequestsResent,
  HttpRequestsPipelined,
  HttpBatchesSplit,
  HttpHeadersDropped,
  RetryTierSends,
  ReplayedRecordsConsumed,
  ConfigReloads,
  ConsumerLag,
  OldestUnfinishedAge,
  StalledPartitions,
  BuildInfo,
  StageDuration,
  EndToEndLatency,
  SinkRequestDuration,
  HttpBatchRecords,
  DedupBatchDuration,
  RouteForwarded,
  RouteConcurrencyLimit,
  RouteRateLimitedWaits,
  RetryParkedKeys,
  RetryParkedRecords,
  RetryParkingRefused,
  DedupStoreErrors,
  RecordsByStep,
  StepSeconds,
  StepRecords,
  IntakeStoppedSeconds,
  // Read from /proc/self at scrape time by ProcessCollector (process_collector.h).
  ProcessCpuSeconds,
  ProcessResidentMemory,
  ProcessVirtualMemory,
  ProcessOpenFds,
  ProcessMaxFds,
  ProcessStartTime,
};

enum class MetricType { Counter, Gauge, Histogram };

// Where a family's values come from: instruments the daemon updates, or /proc/self read at
// scrape time.
enum class MetricSource { Instrumented, Process };

constexpr size_t kMaxLabels = 3;

struct MetricSpec {
  MetricId id;
  MetricType type;
  const char* name;
  const char* help;
  // The label names of every series, in this order; unused slots are null.
  std::array<const char*, kMaxLabels> labels{};
  // For a family (counter or gauge) with one label from a fixed set: its values,
  // comma-separated. Their series are created at zero with the family; families whose label values come from config are
  // pre-created by the code that counts them.
  const char* fixed_values = nullptr;
  MetricSource source = MetricSource::Instrumented;

  size_t label_count() const;
};

// The table itself, in MetricId order.
std::span<const MetricSpec> metric_table();
const MetricSpec& metric_spec(MetricId id);
std::string_view type_name(MetricType type);

// docs/METRICS.md: one table row per family (name, type, labels, help), in table order.
std::string render_metrics_reference();

class Metrics {
 public:
  Metrics();

  prometheus::Registry& registry() { return *registry_; }
  std::shared_ptr<prometheus::Registry> shared_registry() { return registry_; }

  // The child with these labels, created at zero on first use. `labels` must name exactly
  // the table's label names (asserted): a misspelt label would make a second series.
  prometheus::Counter& counter(MetricId id, const std::map<std::string, std::string>& labels = {});
  prometheus::Gauge& gauge(MetricId id, const std::map<std::string, std::string>& labels = {});
  prometheus::Histogram& histogram(MetricId id, const std::map<std::string, std::string>& labels = {});
  // Drops a labelled gauge child (e.g. the lag of a partition no longer assigned).
  void remove_gauge(MetricId id, const std::map<std::string, std::string>& labels);

  // Current value of a counter child (0 when never touched); for tests and summaries.
  double counter_value(MetricId id, const std::map<std::string, std::string>& labels = {});

  // Prometheus text exposition of the whole registry and the process metrics.
  std::string serialize() const;

  // Every counter child with a value above zero, as ("name{label=\"value\",...}", value),
  // sorted: the summary logged when the daemon stops.
  std::vector<std::pair<std::string, double>> nonzero_counters() const;

 private:
  // Every family of the registry, then the collectables' (the process metrics): what a
  // scrape sees.
  std::vector<prometheus::MetricFamily> collect() const;

  std::shared_ptr<prometheus::Registry> registry_;
  // prometheus-cpp's Registry cannot hold other collectables (only its Exposer can), so the
  // process collector is kept here and asked at each scrape.
  std::vector<std::shared_ptr<prometheus::Collectable>> collectables_;
  std::map<MetricId, prometheus::Family<prometheus::Counter>*> counters_;
  std::map<MetricId, prometheus::Family<prometheus::Gauge>*> gauges_;
  std::map<MetricId, prometheus::Family<prometheus::Histogram>*> histograms_;
};

}  // namespace sluice::metrics
