#include "engine/engine_probe.h"

#include "common/assert.h"
#include "common/log.h"
#include "common/text.h"
#include "engine/kafka_topic_sink.h"
#include "engine/trace_context.h"
#include "kafka/client.h"

namespace sluice::engine {
namespace {

constexpr std::chrono::milliseconds kRepeatLogInterval{10'000};

// Errors the Kafka clients commonly report (an outage, a bad address, refused credentials):
// their series exist from start-up. Rarer ones appear when they first happen; librdkafka's
// error names are a fixed set, so the label stays bounded.
constexpr const char* kCommonClientErrors[] = {"_ALL_BROKERS_DOWN", "_TRANSPORT", "_RESOLVE", "_AUTHENTICATION",
                                               "_SSL", "_TIMED_OUT"};

constexpr ErrorClass kErrorClasses[] = {ErrorClass::Transient, ErrorClass::BadData};

std::string_view class_label(ErrorClass error_class) {
  return error_class == ErrorClass::BadData ? "bad_data" : "transient";
}

}  // namespace

EngineProbe::EngineProbe(metrics::Metrics& metrics, const config::Config& config)
    : metrics_(metrics),
      include_payloads_(config.logging.include_payloads),
      stall_timeout_(config.pipeline.stall_timeout) {
  end_to_end_ = &metrics_.histogram(metrics::MetricId::EndToEndLatency);
  last_progress_ = &metrics_.gauge(metrics::MetricId::LastProgressTimestamp);
  loop_gauges_ = {&metrics_.gauge(metrics::MetricId::InFlightRecords), &metrics_.gauge(metrics::MetricId::InFlightBytes),
                  &metrics_.gauge(metrics::MetricId::PausedPartitions),
                  &metrics_.gauge(metrics::MetricId::AssignedPartitions)};
  for (size_t i = 0; i < kStepCount; ++i) {
    const std::map<std::string, std::string> labels{{"step", std::string(step_name(static_cast<Step>(i)))}};
    steps_[i] = {&metrics_.gauge(metrics::MetricId::RecordsByStep, labels),
                 &metrics_.counter(metrics::MetricId::StepSeconds, labels),
                 &metrics_.counter(metrics::MetricId::StepRecords, labels)};
  }
  intake_stopped_ = &metrics_.counter(metrics::MetricId::IntakeStoppedSeconds);
  for (const ReasonInfo& info : kReasons) {
    outcome_counters_[static_cast<size_t>(info.reason)] = &metrics_.counter(
        metrics::MetricId::Outcomes,
        {{"outcome", std::string(outcome_name(info.outcome))}, {"reason", std::string(info.label)}});
  }
  // Series of the topics consumed (inbound and retry tiers), created at zero.
  std::vector<std::string> consumed = config.inbound.topics;
  for (size_t tier = 0; tier < config.retry.tiers.size(); ++tier) {
    const std::string topic = config.retry.tier_topic(tier);
    consumed.push_back(topic);
    metrics_.counter(metrics::MetricId::RetryTierSends, {{"tier", topic}});
    add_produce_errors("retry", topic_sink_name(topic));
  }
  for (const std::string& topic : consumed) {
    metrics_.counter(metrics::MetricId::RecordsConsumed, {{"topic", topic}});
    metrics_.counter(metrics::MetricId::ReplayedRecordsConsumed, {{"topic", topic}});
  }
  add_produce_errors("dlq", topic_sink_name(config.dlq.topic));
  if (!config.pipeline.filter.rejected_topic.empty()) {
    add_produce_errors("rejected", topic_sink_name(config.pipeline.filter.rejected_topic));
  }
  for (const char* error : kCommonClientErrors) metrics_.counter(metrics::MetricId::ConsumerErrors, {{"error", error}});
}

void EngineProbe::add_routes(const std::vector<std::string>& route_sinks) {
  route_sinks_ = route_sinks;
  route_forwarded_.clear();
  for (size_t route = 0; route < route_sinks.size(); ++route) {
    route_forwarded_.push_back(&metrics_.counter(metrics::MetricId::RouteForwarded,
                                                 {{"route", std::to_string(route)}, {"sink", route_sinks[route]}}));
    add_produce_errors("route", route_sinks[route]);
  }
}

void EngineProbe::add_produce_errors(const char* destination, const std::string& sink) {
  for (ErrorClass error_class : kErrorClasses) produce_error_counter(destination, sink, error_class);
}

prometheus::Counter& EngineProbe::produce_error_counter(const char* destination, const std::string& sink,
                                                        ErrorClass error_class) {
  return metrics_.counter(metrics::MetricId::ProduceErrors,
                          {{"destination", destination}, {"sink", sink}, {"class", std::string(class_label(error_class))}});
}

void EngineProbe::count_outcome(const InFlightRecord& record, Reason reason, int64_t now_ms) {
  outcome_counters_[static_cast<size_t>(reason)]->Increment();
  if (reason == Reason::Delivered && record.route >= 0 && static_cast<size_t>(record.route) < route_forwarded_.size()) {
    route_forwarded_[static_cast<size_t>(record.route)]->Increment();
  }
  if (reason == Reason::Delivered && record.timestamp_ms > 0) {
    end_to_end_->Observe(static_cast<double>(std::max<int64_t>(0, now_ms - record.timestamp_ms)) / 1000.0);
  }
  last_progress_->Set(static_cast<double>(now_ms) / 1000.0);
}

// Failed deliveries are rare, so the labelled child is looked up each time.
void EngineProbe::count_produce_error(const char* destination, std::string_view topic, rd_kafka_resp_err_t error) {
  produce_error_counter(destination, topic_sink_name(topic), classify_produce_error(error)).Increment();
}

void EngineProbe::count_route_error(int route, ErrorClass error_class) {
  SLUICE_ASSERT(route >= 0 && static_cast<size_t>(route) < route_sinks_.size(), "a routed record has a known route");
  produce_error_counter("route", route_sinks_[static_cast<size_t>(route)], error_class).Increment();
}

void EngineProbe::count_truncated_envelope() { metrics_.counter(metrics::MetricId::DlqEnvelopesTruncated).Increment(); }

void EngineProbe::count_tier_send(const std::string& tier_topic) {
  metrics_.counter(metrics::MetricId::RetryTierSends, {{"tier", tier_topic}}).Increment();
}

void EngineProbe::count_parking_refused() { metrics_.counter(metrics::MetricId::RetryParkingRefused).Increment(); }

void EngineProbe::set_parked(size_t keys, size_t records) {
  metrics_.gauge(metrics::MetricId::RetryParkedKeys).Set(static_cast<double>(keys));
  metrics_.gauge(metrics::MetricId::RetryParkedRecords).Set(static_cast<double>(records));
}

void EngineProbe::count_replayed(const std::string& topic) {
  metrics_.counter(metrics::MetricId::ReplayedRecordsConsumed, {{"topic", topic}}).Increment();
}

void EngineProbe::log_record_event(std::string_view message, const InFlightRecord& record, TimePoint now) {
  EventLogState& state = event_log_[std::string(reason_label(record.reason))];
  if (now - state.last < std::chrono::seconds(1)) {
    state.suppressed += 1;
    return;
  }
  state.last = now;
  std::vector<log::Field> fields = {{"topic", record.partition->topic},
                                    {"partition", record.partition->partition},
                                    {"offset", record.offset},
                                    {"reason", reason_label(record.reason)},
                                    {"stage", record.stage}};
  if (!record.correlation_id.empty()) fields.emplace_back("correlation_id", record.correlation_id);
  if (std::string_view trace_id = record_trace_id(record.message); !trace_id.empty()) {
    fields.emplace_back("trace_id", trace_id);
  }
  if (state.suppressed > 0) fields.emplace_back("similar_not_logged", state.suppressed);
  std::string payload;
  if (include_payloads_) {
    fields.emplace_back("detail", record.detail);
    payload = record.value_is_null() ? std::string("null") : std::string(record.value().substr(0, 4096));
    fields.emplace_back("payload", payload);
  }
  state.suppressed = 0;
  log::write(log::Level::Info, message, fields);
}

bool EngineProbe::should_log(std::string_view key, TimePoint now) {
  auto it = last_logged_.find(key);
  if (it == last_logged_.end()) {
    last_logged_.emplace(std::string(key), now);
    return true;
  }
  if (now - it->second < kRepeatLogInterval) return false;
  it->second = now;
  return true;
}

void EngineProbe::on_client_error(std::string_view client, rd_kafka_resp_err_t error, const std::string& reason,
                                  TimePoint now) {
  metrics_.counter(metrics::MetricId::ConsumerErrors, {{"error", kafka::error_name(error)}}).Increment();
  if (!should_log("client error " + kafka::error_name(error), now)) return;
  if (error == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
    log::warn("kafka brokers unreachable; waiting for them", {{"client", client}, {"detail", reason}});
  } else {
    log::warn("kafka client error", {{"client", client}, {"error", kafka::error_name(error)}, {"detail", reason}});
  }
}

void EngineProbe::update_loop_gauges(int64_t records, int64_t bytes, int64_t paused, int64_t assigned) {
  loop_gauges_.in_flight_records->Set(static_cast<double>(records));
  loop_gauges_.in_flight_bytes->Set(static_cast<double>(bytes));
  loop_gauges_.paused_partitions->Set(static_cast<double>(paused));
  loop_gauges_.assigned_partitions->Set(static_cast<double>(assigned));
}

void EngineProbe::publish_steps(StepLedger& ledger, std::chrono::nanoseconds intake_stopped) {
  using Seconds = std::chrono::duration<double>;
  const std::array<StepLedger::Left, kStepCount> left = ledger.take_left();
  for (size_t i = 0; i < kStepCount; ++i) {
    steps_[i].records->Set(static_cast<double>(ledger.in(static_cast<Step>(i))));
    if (left[i].records == 0) continue;
    steps_[i].left->Increment(static_cast<double>(left[i].records));
    steps_[i].seconds->Increment(Seconds(left[i].time).count());
  }
  if (intake_stopped > intake_stopped_published_) {
    intake_stopped_->Increment(Seconds(intake_stopped - intake_stopped_published_).count());
    intake_stopped_published_ = intake_stopped;
  }
}

int64_t EngineProbe::observe(const PartitionTable& partitions, kafka::ConsumerApi& consumer, WatermarkPoller* poller,
                             TimePoint now, int64_t now_ms) {
  int64_t oldest_ms = now_ms;
  int64_t stalled = 0;
  std::vector<kafka::TopicPartition> paused;
  partitions.for_each([&](const std::shared_ptr<PartitionState>& partition) {
    kafka::TopicPartition id{partition->topic, partition->partition};
    if (partition->paused_in_client) paused.push_back(id);
    std::optional<kafka::Watermarks> marks = consumer.cached_watermarks(id);
    if (partition->paused_in_client && poller != nullptr) {
      // A paused partition is not fetched, so the cached high watermark stands still.
      if (auto queried = poller->watermarks(id); queried && (!marks || queried->high > marks->high)) marks = queried;
    }
    if (marks) {
      int64_t position = partition->offsets.committed().value_or(marks->low);
      partition->high_watermark = marks->high;
      partition->lag = std::max<int64_t>(0, marks->high - position);
      metrics_.gauge(metrics::MetricId::ConsumerLag,
                     {{"topic", partition->topic}, {"partition", std::to_string(partition->partition)}})
          .Set(static_cast<double>(partition->lag));
    }
    if (auto since = partition->offsets.oldest_pending_since()) oldest_ms = std::min(oldest_ms, *since);
    // Records waiting on purpose (a retry tier's due time, an outage) are not a stall.
    const bool waiting = (partition->pause_reasons & (kPauseRetryWait | kPauseOutage)) != 0;
    int64_t working = partition->in_flight - static_cast<int64_t>(partition->held.size());
    bool is_stalled = !waiting && working > 0 && now - partition->last_progress >= stall_timeout_;
    if (is_stalled != partition->stalled) {
      partition->stalled = is_stalled;
      if (is_stalled) {
        log::warn("partition stalled: records in flight and no progress",
                  {{"topic", partition->topic},
                   {"partition", partition->partition},
                   {"in_flight", partition->in_flight},
                   {"oldest_offset", partition->offsets.oldest_pending().value_or(-1)},
                   {"stall_timeout", text::format_duration(stall_timeout_)}});
      } else {
        log::info("partition moving again", {{"topic", partition->topic}, {"partition", partition->partition}});
      }
    }
    stalled += is_stalled ? 1 : 0;
  });
  if (poller != nullptr) poller->watch(std::move(paused));
  metrics_.gauge(metrics::MetricId::OldestUnfinishedAge).Set(static_cast<double>(now_ms - oldest_ms) / 1000.0);
  metrics_.gauge(metrics::MetricId::StalledPartitions).Set(static_cast<double>(stalled));
  return stalled;
}

void EngineProbe::forget_partition(const PartitionState& partition) {
  metrics_.remove_gauge(metrics::MetricId::ConsumerLag,
                        {{"topic", partition.topic}, {"partition", std::to_string(partition.partition)}});
}

}  // namespace sluice::engine
