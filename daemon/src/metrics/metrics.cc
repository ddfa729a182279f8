#include "metrics/metrics.h"

#include <algorithm>
#include <iterator>

#include <prometheus/text_serializer.h>

#include "common/assert.h"
#include "metrics/process_collector.h"

namespace sluice::metrics {
namespace {

// The steps of a record in flight (engine::step_name()).
constexpr const char* kStepValues =
    "staging,held,dedup,waiting_on_peer,queued,forwarding,retrying,dead_lettering,rejecting";

constexpr MetricSpec kMetricTable[] = {
    {MetricId::RecordsConsumed, MetricType::Counter, "sluice_pipeline_records_consumed_total",
     "Records taken from the inbound topics, by topic.", {"topic"}},
    {MetricId::Outcomes, MetricType::Counter, "sluice_pipeline_outcomes_total",
     "Records that reached a final outcome (forwarded, filtered, duplicate, retry, dlq), by outcome and reason.", {"outcome", "reason"}},
    {MetricId::DedupLookups, MetricType::Counter, "sluice_dedup_lookups_total",
     "Dedup store answers by backend and result (hit, miss, busy, error; unchecked: forwarded without the check).", {"backend", "result"}},
    {MetricId::ProduceErrors, MetricType::Counter, "sluice_producer_errors_total",
     "Failed deliveries, by destination kind (route, retry, dlq, rejected), sink and error class (transient, bad_data); the log names the error.", {"destination", "sink", "class"}},
    {MetricId::DlqEnvelopesTruncated, MetricType::Counter, "sluice_dlq_envelopes_truncated_total",
     "DLQ records holding less than the whole original: an envelope's value cut to a prefix, or with dlq.format: raw the original headers left out or the minimal envelope written.", {}},
    {MetricId::OffsetCommits, MetricType::Counter, "sluice_consumer_offset_commits_total",
     "Offset commit attempts by result (ok, failed; aborted: the transaction holding them was aborted).",
     {"result"}, "ok,failed,aborted"},
    {MetricId::ConsumerErrors, MetricType::Counter, "sluice_consumer_errors_total",
     "Errors reported by the Kafka clients, by librdkafka error name (the common ones exist from start-up).", {"error"}},
    {MetricId::InFlightRecords, MetricType::Gauge, "sluice_pipeline_in_flight_records",
     "Records consumed and not yet at a final outcome.", {}},
    {MetricId::InFlightBytes, MetricType::Gauge, "sluice_pipeline_in_flight_bytes",
     "Bytes (key + value) of records consumed and not yet at a final outcome.", {}},
    {MetricId::PausedPartitions, MetricType::Gauge, "sluice_consumer_paused_partitions",
     "Assigned partitions currently paused (backpressure, outage or waiting for a due time).", {}},
    {MetricId::AssignedPartitions, MetricType::Gauge, "sluice_consumer_assigned_partitions",
     "Partitions currently assigned to this instance.", {}},
    {MetricId::LastProgressTimestamp, MetricType::Gauge, "sluice_pipeline_last_progress_timestamp_seconds",
     "When a record last reached a final outcome, in seconds since the epoch.", {}},
    {MetricId::BreakerState, MetricType::Gauge, "sluice_breaker_state",
     "Circuit breaker state per sink: 0 closed, 1 open, 2 half-open.", {"sink"}},
    {MetricId::BreakerTransitions, MetricType::Counter, "sluice_breaker_transitions_total",
     "Circuit breaker state changes per sink, by the state entered.", {"sink", "to"}},
    {MetricId::BreakerWaitingRecords, MetricType::Gauge, "sluice_breaker_waiting_records",
     "Records held back because their sink's breaker is not closed.", {"sink"}},
    {MetricId::HttpConnectionsOpened, MetricType::Counter, "sluice_http_connections_opened_total",
     "Connections an HTTP route opened to its endpoint (a steady rise means they are not kept alive).", {"sink"}},
    {MetricId::HttpRequestsResent, MetricType::Counter, "sluice_http_requests_resent_total",
     "Requests an HTTP route sent again on a fresh connection because the server had closed the one they went out on.", {"sink"}},
    {MetricId::HttpRequestsPipelined, MetricType::Counter, "sluice_http_requests_pipelined_total",
     "Requests an HTTP route wrote while an earlier one on the same connection was unanswered (pipeline_depth).", {"sink"}},
    {MetricId::HttpBatchesSplit, MetricType::Counter, "sluice_http_batches_split_total",
     "Batches of an HTTP route split in halves, to be sent again, because the endpoint refused them as bad data (routes[].http.batch).",
     {"sink"}},
    {MetricId::HttpHeadersDropped, MetricType::Counter, "sluice_http_headers_dropped_total",
     "Record headers an HTTP route left out of its requests (the request went without them), by route index, sink "
     "and reason: invalid_name (not an HTTP token), invalid_value (a control character such as CR, LF or NUL, or "
     "whitespace at either end), owned_name (a header the route sets itself).",
     {"route", "sink", "reason"}},
    {MetricId::RetryTierSends, MetricType::Counter, "sluice_retry_tier_sends_total",
     "Records sent to a retry tier (acknowledged), by tier topic.", {"tier"}},
    {MetricId::ReplayedRecordsConsumed, MetricType::Counter, "sluice_pipeline_replayed_records_total",
     "Records consumed that carry sluice-replay-count (re-driven from the DLQ), by topic.", {"topic"}},
    {MetricId::ConfigReloads, MetricType::Counter, "sluice_config_reloads_total",
     "Reloads of the config (SIGHUP or a ConfigMap swap), by result: ok, failed (the old set stays), "
     "restart_required (files reloaded; other changed keys need a restart).", {"result"},
     "ok,failed,restart_required"},
    {MetricId::ConsumerLag, MetricType::Gauge, "sluice_consumer_lag_records",
     "Records between the committed position and the high watermark, per assigned partition.", {"topic", "partition"}},
    {MetricId::OldestUnfinishedAge, MetricType::Gauge, "sluice_pipeline_oldest_unfinished_record_age_seconds",
     "How long the oldest record not yet at a final outcome has been in flight.", {}},
    {MetricId::StalledPartitions, MetricType::Gauge, "sluice_pipeline_stalled_partitions",
     "Partitions with records in flight and no progress for pipeline.stall_timeout.", {}},
    {MetricId::BuildInfo, MetricType::Gauge, "sluice_build_info", "Always 1; the version is a label.", {"version"}},
    {MetricId::StageDuration, MetricType::Histogram, "sluice_pipeline_stage_duration_seconds",
     "Time one record spends in each CPU stage (size, parse, schema, filter, fingerprint).", {"stage"}},
    {MetricId::EndToEndLatency, MetricType::Histogram, "sluice_pipeline_end_to_end_latency_seconds",
     "From a record's timestamp to its final outcome (forwarded and acknowledged).", {}},
    {MetricId::SinkRequestDuration, MetricType::Histogram, "sluice_sink_request_duration_seconds",
     "From handing a record to its sink to the sink's answer, per sink.", {"sink"}},
    {MetricId::HttpBatchRecords, MetricType::Histogram, "sluice_http_batch_records",
     "Records in each batch request an HTTP route sent (routes[].http.batch), the parts of a split batch included, per sink.",
     {"sink"}},
    {MetricId::DedupBatchDuration, MetricType::Histogram, "sluice_dedup_batch_duration_seconds",
     "One reserve call of the dedup store for a whole batch, per backend.", {"backend"}},
    {MetricId::RouteForwarded, MetricType::Counter, "sluice_route_forwarded_records_total",
     "Records a route delivered (acknowledged by its sink), by route index in the config and sink.",
     {"route", "sink"}},
    {MetricId::RouteConcurrencyLimit, MetricType::Gauge, "sluice_route_concurrency_limit",
     "Requests an HTTP route may have in flight now (routes[].http.concurrency: the adaptive limit, or the fixed "
     "one), by route index and sink.",
     {"route", "sink"}},
    {MetricId::RouteRateLimitedWaits, MetricType::Counter, "sluice_route_rate_limited_waits_total",
     "Records that were due but waited for a token of their route's rate_limit, by route index and sink.",
     {"route", "sink"}},
    {MetricId::RetryParkedKeys, MetricType::Gauge, "sluice_retry_parked_keys",
     "With retry.ordering: key, keys whose later records are parked behind a record in a retry tier.", {}},
    {MetricId::RetryParkedRecords, MetricType::Gauge, "sluice_retry_parked_records",
     "With retry.ordering: key, records of parked keys in the retry tiers or on their way there (the failed ones "
     "and those parked behind them).",
     {}},
    {MetricId::RetryParkingRefused, MetricType::Counter, "sluice_retry_parking_refused_total",
     "Keys not parked because retry.max_parked_keys were parked already: their later records may overtake the "
     "failed one.",
     {}},
    {MetricId::DedupStoreErrors, MetricType::Counter, "sluice_dedup_store_errors_total",
     "Calls of the dedup store that failed (a full disk, an I/O error, Redis unreachable), by backend and operation (reserve, confirm, release, flush, expire).",
     {"backend", "operation"}},
    {MetricId::RecordsByStep, MetricType::Gauge, "sluice_pipeline_records_by_step",
     "Records in flight by the step they are in (staging: CPU stages; held: retry record not due; dedup: waiting "
     "for the dedup store; waiting_on_peer: an identical record is in flight; queued: in its destination's queue; "
     "forwarding: sent, waiting for the sink's answer; retrying, dead_lettering, rejecting: sluice's own record "
     "being produced). Set about every 100 ms.",
     {"step"}, kStepValues},
    {MetricId::StepSeconds, MetricType::Counter, "sluice_pipeline_step_seconds_total",
     "Seconds records spent in each step, counted when they left it; its rate divided by the rate of "
     "sluice_pipeline_step_records_total is the mean time a record spends in that step.",
     {"step"}, kStepValues},
    {MetricId::StepRecords, MetricType::Counter, "sluice_pipeline_step_records_total",
     "Records that left each step (to the next one or to their final outcome).", {"step"}, kStepValues},
    {MetricId::IntakeStoppedSeconds, MetricType::Counter, "sluice_pipeline_intake_stopped_seconds_total",
     "Seconds consumption was stopped because the in-flight budget (pipeline.max_in_flight_records, "
     "max_in_flight_bytes) was used up.", {}},
    {MetricId::ProcessCpuSeconds, MetricType::Counter, "process_cpu_seconds_total",
     "User and system CPU time spent, in seconds.", {}, nullptr, MetricSource::Process},
    {MetricId::ProcessResidentMemory, MetricType::Gauge, "process_resident_memory_bytes", "Resident memory size in bytes.",
     {}, nullptr, MetricSource::Process},
    {MetricId::ProcessVirtualMemory, MetricType::Gauge, "process_virtual_memory_bytes", "Virtual memory size in bytes.",
     {}, nullptr, MetricSource::Process},
    {MetricId::ProcessOpenFds, MetricType::Gauge, "process_open_fds", "Open file descriptors.", {}, nullptr,
     MetricSource::Process},
    {MetricId::ProcessMaxFds, MetricType::Gauge, "process_max_fds", "The limit of open file descriptors (RLIMIT_NOFILE).",
     {}, nullptr, MetricSource::Process},
    {MetricId::ProcessStartTime, MetricType::Gauge, "process_start_time_seconds",
     "When the process started, in seconds since the epoch.", {}, nullptr, MetricSource::Process},
};

// Buckets in seconds (records for batch sizes). CPU stages take microseconds; deliveries and
// end-to-end latency take milliseconds to seconds.
const prometheus::Histogram::BucketBoundaries& buckets_for(MetricId id) {
  static const prometheus::Histogram::BucketBoundaries kStage = {1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 1e-3, 1e-2};
  static const prometheus::Histogram::BucketBoundaries kIo = {1e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2,
                                                              0.1,  0.25, 0.5,  1,      2.5,  5,    10,     30};
  static const prometheus::Histogram::BucketBoundaries kLatency = {1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25,
                                                                   0.5,  1,      2.5,  5,    10,     30,     60,  300};
  static const prometheus::Histogram::BucketBoundaries kRecords = {1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 10000};
  switch (id) {
    case MetricId::StageDuration: return kStage;
    case MetricId::HttpBatchRecords: return kRecords;
    case MetricId::EndToEndLatency: return kLatency;
    default: return kIo;
  }
}

// Splits "a,b,c".
std::vector<std::string> split_values(const char* list) {
  std::vector<std::string> out;
  if (list == nullptr) return out;
  std::string_view rest(list);
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    out.emplace_back(rest.substr(0, comma));
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return out;
}

// The child's labels name exactly the table's labels.
void check_labels(const MetricSpec& spec, const std::map<std::string, std::string>& labels) {
  bool same = labels.size() == spec.label_count();
  for (size_t i = 0; same && i < spec.label_count(); ++i) same = labels.contains(spec.labels[i]);
  SLUICE_ASSERT(same, "the labels of a series are the ones kMetricTable names");
}

}  // namespace

size_t MetricSpec::label_count() const {
  size_t count = 0;
  while (count < kMaxLabels && labels[count] != nullptr) ++count;
  return count;
}

std::span<const MetricSpec> metric_table() { return kMetricTable; }

const MetricSpec& metric_spec(MetricId id) {
  const MetricSpec& spec = kMetricTable[static_cast<size_t>(id)];
  SLUICE_ASSERT(spec.id == id, "kMetricTable is in MetricId order");
  return spec;
}

std::string_view type_name(MetricType type) {
  switch (type) {
    case MetricType::Counter: return "counter";
    case MetricType::Gauge: return "gauge";
    case MetricType::Histogram: return "histogram";
  }
  return "untyped";
}

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  static_assert(std::size(kMetricTable) == static_cast<size_t>(MetricId::ProcessStartTime) + 1,
                "every MetricId has one row in kMetricTable");
  for (const MetricSpec& spec : kMetricTable) {
    SLUICE_ASSERT(&metric_spec(spec.id) == &spec, "kMetricTable is in MetricId order");
    if (spec.source != MetricSource::Instrumented) continue;
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
    // Series known without config: the family's only series, or its fixed label values.
    if (spec.label_count() == 0) {
      if (spec.type == MetricType::Counter) counter(spec.id);
      if (spec.type == MetricType::Gauge) gauge(spec.id);
      if (spec.type == MetricType::Histogram) histogram(spec.id);
    }
    for (const std::string& value : split_values(spec.fixed_values)) {
      SLUICE_ASSERT(spec.type != MetricType::Histogram && spec.label_count() == 1,
                    "fixed values: counters or gauges of one label");
      if (spec.type == MetricType::Counter) counter(spec.id, {{spec.labels[0], value}});
      if (spec.type == MetricType::Gauge) gauge(spec.id, {{spec.labels[0], value}});
    }
  }
  collectables_.push_back(std::make_shared<ProcessCollector>());
}

prometheus::Counter& Metrics::counter(MetricId id, const std::map<std::string, std::string>& labels) {
  auto it = counters_.find(id);
  SLUICE_ASSERT(it != counters_.end(), "metric id is not a counter");
  check_labels(metric_spec(id), labels);
  return it->second->Add(labels);
}

prometheus::Gauge& Metrics::gauge(MetricId id, const std::map<std::string, std::string>& labels) {
  auto it = gauges_.find(id);
  SLUICE_ASSERT(it != gauges_.end(), "metric id is not a gauge");
  check_labels(metric_spec(id), labels);
  return it->second->Add(labels);
}

prometheus::Histogram& Metrics::histogram(MetricId id, const std::map<std::string, std::string>& labels) {
  auto it = histograms_.find(id);
  SLUICE_ASSERT(it != histograms_.end(), "metric id is not a histogram");
  check_labels(metric_spec(id), labels);
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

std::vector<prometheus::MetricFamily> Metrics::collect() const {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  for (const auto& collectable : collectables_) {
    std::vector<prometheus::MetricFamily> more = collectable->Collect();
    std::move(more.begin(), more.end(), std::back_inserter(families));
  }
  return families;
}

std::string Metrics::serialize() const {
  prometheus::TextSerializer serializer;
  return serializer.Serialize(collect());
}

}  // namespace sluice::metrics
