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
     "Dedup store answers by backend and result (hit, miss, busy, error)."},
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
    {MetricId::RetryTierSends, MetricType::Counter, "sluice_retry_tier_sends_total",
     "Records sent to a retry tier (acknowledged), by tier topic."},
    {MetricId::ReplayedRecordsConsumed, MetricType::Counter, "sluice_pipeline_replayed_records_total",
     "Records consumed that carry sluice-replay-count (re-driven from the DLQ), by topic."},
};

}  // namespace

const MetricSpec* metric_table(size_t* count) {
  *count = std::size(kMetricTable);
  return kMetricTable;
}

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  for (const MetricSpec& spec : kMetricTable) {
    switch (spec.type) {
      case MetricType::Counter:
        counters_[spec.id] = &prometheus::BuildCounter().Name(spec.name).Help(spec.help).Register(*registry_);
        break;
      case MetricType::Gauge:
        gauges_[spec.id] = &prometheus::BuildGauge().Name(spec.name).Help(spec.help).Register(*registry_);
        break;
      case MetricType::Histogram:
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
