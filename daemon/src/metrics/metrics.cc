#include "metrics/metrics.h"

#include <algorithm>

#include <prometheus/text_serializer.h>

#include "common/assert.h"

namespace sluice::metrics {
namespace {

constexpr MetricSpec kMetricTable[] = {
    {MetricId::RecordsConsumed, MetricType::Counter, "sluice_pipeline_records_consumed_total",
     "Records taken from the inbound topics, by topic."},
    {MetricId::Outcomes, MetricType::Counter, "sluice_pipeline_outcomes_total",
     "Records that reached a final outcome (forwarded, filtered, duplicate, retry, dlq), by outcome and reason."},
    {MetricId::DedupLookups, MetricType::Counter, "sluice_dedup_lookups_total",
     "Dedup store answers by backend and result (hit, miss, busy, error; unchecked: forwarded without the check)."},
    {MetricId::ProduceErrors, MetricType::Counter, "sluice_producer_errors_total",
     "Failed deliveries to Kafka topics, by destination kind and librdkafka error name."},
    {MetricId::DlqEnvelopesTruncated, MetricType::Counter, "sluice_dlq_envelopes_truncated_total",
     "DLQ records whose original value was too large to embed and was cut to a prefix."},
    {MetricId::OffsetCommits, MetricType::Counter, "sluice_consumer_offset_commits_total",
     "Offset commit attempts by result (ok, failed)."},
    {MetricId::ConsumerErrors, MetricType::Counter, "sluice_consumer_errors_total",
     "Errors reported by the consumer, by librdkafka error name."},
    {MetricId::InFlightRecords, MetricType::Gauge, "sluice_pipeline_in_flight_records",
     "Records consumed and not yet at a final outcome."},
    {MetricId::InFlightBytes, MetricType::Gauge, "sluice_pipeline_in_flight_bytes",
     "Bytes (key + value) of records consumed and not yet at a final outcome."},
    {MetricId::PausedPartitions, MetricType::Gauge, "sluice_consumer_paused_partitions",
     "Assigned partitions currently paused (backpressure, outage or waiting for a due time)."},
    {MetricId::AssignedPartitions, MetricType::Gauge, "sluice_consumer_assigned_partitions",
     "Partitions currently assigned to this instance."},
    {MetricId::LastProgressTimestamp, MetricType::Gauge, "sluice_pipeline_last_progress_timestamp_seconds",
     "When a record last reached a final outcome, in seconds since the epoch."},
    {MetricId::BreakerState, MetricType::Gauge, "sluice_breaker_state",
     "Circuit breaker state per sink: 0 closed, 1 open, 2 half-open."},
    {MetricId::BreakerTransitions, MetricType::Counter, "sluice_breaker_transitions_total",
     "Circuit breaker state changes per sink, by the state entered."},
    {MetricId::BreakerWaitingRecords, MetricType::Gauge, "sluice_breaker_waiting_records",
     "Records held back because their sink's breaker is not closed."},
    {MetricId::HttpConnectionsOpened, MetricType::Counter, "sluice_http_connections_opened_total",
     "Connections an HTTP route opened to its endpoint (a steady rise means they are not kept alive)."},
    {MetricId::HttpRequestsResent, MetricType::Counter, "sluice_http_requests_resent_total",
     "Requests an HTTP route sent again on a fresh connection because the server had closed the one they went out on."},
    {MetricId::HttpRequestsPipelined, MetricType::Counter, "sluice_http_requests_pipelined_total",
     "Requests an HTTP route wrote while an earlier one on the same connection was unanswered (pipeline_depth)."},
    {MetricId::RetryTierSends, MetricType::Counter, "sluice_retry_tier_sends_total",
     "Records sent to a retry tier (acknowledged), by tier topic."},
    {MetricId::ReplayedRecordsConsumed, MetricType::Counter, "sluice_pipeline_replayed_records_total",
     "Records consumed that carry sluice-replay-count (re-driven from the DLQ), by topic."},
    {MetricId::ConfigReloads, MetricType::Counter, "sluice_config_reloads_total",
     "Reloads of blocked senders, spam keywords and schemas (SIGHUP), by result (ok, failed)."},
    {MetricId::ConsumerLag, MetricType::Gauge, "sluice_consumer_lag_records",
     "Records between the committed position and the high watermark, per assigned partition."},
    {MetricId::OldestUnfinishedAge, MetricType::Gauge, "sluice_pipeline_oldest_unfinished_record_age_seconds",
     "How long the oldest record not yet at a final outcome has been in flight."},
    {MetricId::StalledPartitions, MetricType::Gauge, "sluice_pipeline_stalled_partitions",
     "Partitions with records in flight and no progress for pipeline.stall_timeout."},
    {MetricId::BuildInfo, MetricType::Gauge, "sluice_build_info", "Always 1; the version is a label."},
    {MetricId::StageDuration, MetricType::Histogram, "sluice_pipeline_stage_duration_seconds",
     "Time one record spends in each CPU stage (size, parse, schema, filter, fingerprint)."},
    {MetricId::EndToEndLatency, MetricType::Histogram, "sluice_pipeline_end_to_end_latency_seconds",
     "From a record's timestamp to its final outcome (forwarded and acknowledged)."},
    {MetricId::SinkRequestDuration, MetricType::Histogram, "sluice_sink_request_duration_seconds",
     "From handing a record to its sink to the sink's answer, per sink."},
    {MetricId::DedupBatchDuration, MetricType::Histogram, "sluice_dedup_batch_duration_seconds",
     "One reserve call of the dedup store for a whole batch, per backend."},
};

// Buckets in seconds. CPU stages take microseconds; deliveries and end-to-end latency take
// milliseconds to seconds.
const prometheus::Histogram::BucketBoundaries& buckets_for(MetricId id) {
  static const prometheus::Histogram::BucketBoundaries kStage = {1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 1e-3, 1e-2};
  static const prometheus::Histogram::BucketBoundaries kIo = {1e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2,
                                                              0.1,  0.25, 0.5,  1,      2.5,  5,    10,     30};
  static const prometheus::Histogram::BucketBoundaries kLatency = {1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25,
                                                                   0.5,  1,      2.5,  5,    10,     30,     60,  300};
  switch (id) {
    case MetricId::StageDuration: return kStage;
    case MetricId::EndToEndLatency: return kLatency;
    default: return kIo;
  }
}

}  // namespace

const MetricSpec* metric_table(size_t* count) {
  *count = std::size(kMetricTable);
  return kMetricTable;
}

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  static_assert(std::size(kMetricTable) == static_cast<size_t>(MetricId::DedupBatchDuration) + 1,
                "every MetricId has one row in kMetricTable");
  for (const MetricSpec& spec : kMetricTable) {
    switch (spec.type) {
      case MetricType::Counter:
        counters_[spec.id] = &prometheus::BuildCounter().Name(spec.name).Help(spec.help).Register(*registry_);
        break;
      case MetricType::Gauge:
        gauges_[spec.id] = &prometheus::BuildGauge().Name(spec.name).Help(spec.help).Register(*registry_);
        break;
      case MetricType::Histogram:
        histograms_[spec.id] = &prometheus::BuildHistogram().Name(spec.name).Help(spec.help).Register(*registry_);
        break;
    }
  }
}

prometheus::Counter& Metrics::counter(MetricId id, const std::map<std::string, std::string>& labels) {
  auto it = counters_.find(id);
  SLUICE_ASSERT(it != counters_.end(), "metric id is not a counter");
  return it->second->Add(labels);
}

prometheus::Gauge& Metrics::gauge(MetricId id, const std::map<std::string, std::string>& labels) {
  auto it = gauges_.find(id);
  SLUICE_ASSERT(it != gauges_.end(), "metric id is not a gauge");
  return it->second->Add(labels);
}

prometheus::Histogram& Metrics::histogram(MetricId id, const std::map<std::string, std::string>& labels) {
  auto it = histograms_.find(id);
  SLUICE_ASSERT(it != histograms_.end(), "metric id is not a histogram");
  return it->second->Add(labels, buckets_for(id));
}

void Metrics::remove_gauge(MetricId id, const std::map<std::string, std::string>& labels) {
  auto it = gauges_.find(id);
  SLUICE_ASSERT(it != gauges_.end(), "metric id is not a gauge");
  if (it->second->Has(labels)) it->second->Remove(&it->second->Add(labels));
}

double Metrics::counter_value(MetricId id, const std::map<std::string, std::string>& labels) {
  auto it = counters_.find(id);
  SLUICE_ASSERT(it != counters_.end(), "metric id is not a counter");
  if (!it->second->Has(labels)) return 0;
  return it->second->Add(labels).Value();
}

std::vector<std::pair<std::string, double>> Metrics::nonzero_counters() const {
  std::vector<std::pair<std::string, double>> out;
  for (const prometheus::MetricFamily& family : registry_->Collect()) {
    if (family.type != prometheus::MetricType::Counter) continue;
    for (const prometheus::ClientMetric& metric : family.metric) {
      if (metric.counter.value <= 0) continue;
      std::string name = family.name;
      if (!metric.label.empty()) {
        name += '{';
        for (size_t i = 0; i < metric.label.size(); ++i) {
          if (i > 0) name += ',';
          name += metric.label[i].name + "=\"" + metric.label[i].value + "\"";
        }
        name += '}';
      }
      out.emplace_back(std::move(name), metric.counter.value);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string Metrics::serialize() const {
  prometheus::TextSerializer serializer;
  return serializer.Serialize(registry_->Collect());
}

}  // namespace sluice::metrics
