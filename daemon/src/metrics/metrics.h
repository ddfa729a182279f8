#pragma once
// Every metric sluice exports, declared once in kMetricTable (metrics.cc) with its type,
// help text and label names. Names follow sluice_<subsystem>_<what>_<unit>; labels are
// bounded (topics from config, reasons from a fixed set of codes).
//
// Threading: prometheus-cpp counters and gauges are atomic; the engine thread updates them,
// the admin server thread serializes them. Lookups of labelled children take a mutex inside
// prometheus-cpp, so hot paths cache the returned references (they stay valid for the
// registry's lifetime).

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace sluice::metrics {

enum class MetricId {
  RecordsConsumed,         // counter {topic}
  Outcomes,                // counter {outcome, reason}
  DedupLookups,            // counter {backend, result}
  ProduceErrors,           // counter {destination, error}
  DlqEnvelopesTruncated,   // counter
  OffsetCommits,           // counter {result}
  ConsumerErrors,          // counter {error}
  InFlightRecords,         // gauge
  InFlightBytes,           // gauge
  PausedPartitions,        // gauge
  AssignedPartitions,      // gauge
  LastProgressTimestamp,   // gauge, seconds since the epoch
  BreakerState,            // gauge {sink}: 0 closed, 1 open, 2 half-open
  BreakerTransitions,      // counter {sink, to}
  BreakerWaitingRecords,   // gauge {sink}
  HttpConnectionsOpened,   // counter {sink}
  HttpRequestsResent,      // counter {sink}
  HttpRequestsPipelined,   // counter {sink}
  RetryTierSends,          // counter {tier}
  ReplayedRecordsConsumed, // counter {topic}
  ConfigReloads,           // counter {result}
  ConsumerLag,             // gauge {topic, partition}
  OldestUnfinishedAge,     // gauge
  StalledPartitions,       // gauge
  BuildInfo,               // gauge {version} = 1
  StageDuration,           // histogram {stage}
  EndToEndLatency,         // histogram
  SinkRequestDuration,     // histogram {sink}
  DedupBatchDuration,      // histogram {backend}
};

enum class MetricType { Counter, Gauge, Histogram };

struct MetricSpec {
  MetricId id;
  MetricType type;
  const char* name;
  const char* help;
};

// The table itself, in MetricId order.
const MetricSpec* metric_table(size_t* count);

class Metrics {
 public:
  Metrics();

  prometheus::Registry& registry() { return *registry_; }
  std::shared_ptr<prometheus::Registry> shared_registry() { return registry_; }

  prometheus::Counter& counter(MetricId id, const std::map<std::string, std::string>& labels = {});
  prometheus::Gauge& gauge(MetricId id, const std::map<std::string, std::string>& labels = {});
  prometheus::Histogram& histogram(MetricId id, const std::map<std::string, std::string>& labels = {});
  // Drops a labelled gauge child (e.g. the lag of a partition no longer assigned).
  void remove_gauge(MetricId id, const std::map<std::string, std::string>& labels);

  // Current value of a counter child (0 when never touched); for tests and summaries.
  double counter_value(MetricId id, const std::map<std::string, std::string>& labels = {});

  // Prometheus text exposition of the whole registry.
  std::string serialize() const;

  // Every counter child with a value above zero, as ("name{label=\"value\",...}", value),
  // sorted: the summary logged when the daemon stops.
  std::vector<std::pair<std::string, double>> nonzero_counters() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::map<MetricId, prometheus::Family<prometheus::Counter>*> counters_;
  std::map<MetricId, prometheus::Family<prometheus::Gauge>*> gauges_;
  std::map<MetricId, prometheus::Family<prometheus::Histogram>*> histograms_;
};

}  // namespace sluice::metrics
