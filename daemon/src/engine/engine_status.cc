// What the engine tells the admin server: the connectivity verdict behind /readyz and the
// snapshot behind /status. Engine thread only; the listener copies what it keeps, so the
// admin thread never touches engine state.

#include "common/log.h"
#include "engine/engine.h"

namespace sluice::engine {
namespace {

void add_pause_names(uint32_t reasons, std::vector<std::string>& out) {
  static constexpr std::pair<uint32_t, const char*> kNames[] = {{kPauseBackpressure, "backpressure"},
                                                                 {kPauseStopping, "stopping"},
                                                                 {kPauseDedupDown, "dedup_down"},
                                                                 {kPauseRetryWait, "retry_wait"},
                                                                 {kPauseOutage, "outage"},
                                                                 {kPauseParkingScan, "parking_scan"}};
  for (const auto& [bit, name] : kNames) {
    if ((reasons & bit) != 0) out.emplace_back(name);
  }
}

}  // namespace

void Engine::report_connectivity() {
  Connectivity::Verdict verdict = connectivity_.evaluate(clock_.now());
  if (connectivity_reported_ && *connectivity_reported_ == verdict) return;
  if (connectivity_reported_ && connectivity_reported_->brokers_reached != verdict.brokers_reached) {
    log::write(verdict.brokers_reached ? log::Level::Info : log::Level::Warn,
               verdict.brokers_reached ? "kafka brokers reached again" : "no kafka broker reached; not ready",
               {{"detail", verdict.broker_detail}});
  }
  lifecycle_->on_connectivity(verdict.in_group, verdict.group_detail, verdict.brokers_reached, verdict.broker_detail);
  connectivity_reported_ = std::move(verdict);
}

void Engine::ping_brokers() {
  if (watermark_poller_ == nullptr) return;
  if (uint64_t answers = watermark_poller_->answers(); answers != poller_answers_seen_) {
    poller_answers_seen_ = answers;
    connectivity_.on_broker_contact();
  }
  std::optional<kafka::TopicPartition> ping;
  if (connectivity_.awaiting_contact()) {
    // Any partition does: an assigned one, else the first inbound topic's first.
    partitions_->for_each([&](const std::shared_ptr<PartitionState>& partition) {
      if (!ping) ping = kafka::TopicPartition{partition->topic, partition->partition};
    });
    if (!ping && !config_->inbound.topics.empty()) ping = kafka::TopicPartition{config_->inbound.topics.front(), 0};
  }
  watermark_poller_->set_ping(std::move(ping));
}

void Engine::publish_status() {
  StatusSnapshot& status = status_;
  status.taken_at_ms = clock_.epoch_ms();
  status.group_id = config_->kafka.group_id;
  status.delivery = config_->kafka.delivery == config::DeliveryMode::ExactlyOnce ? "exactly_once" : "at_least_once";
  if (connectivity_reported_) {
    status.in_group = connectivity_reported_->in_group;
    status.brokers_reached = connectivity_reported_->brokers_reached;
  }
  status.partitions.clear();
  status.retry_held = 0;
  partitions_->for_each([&](const std::shared_ptr<PartitionState>& state) {
    PartitionStatus& entry = status.partitions.emplace_back();
    entry.topic = state->topic;
    entry.partition = state->partition;
    entry.committed = state->offsets.committed().value_or(-1);
    entry.position = state->offsets.consumed_position().value_or(-1);
    entry.high_watermark = state->high_watermark;
    entry.lag = state->lag;
    entry.in_flight = state->in_flight;
    entry.retry_held = static_cast<int64_t>(state->held.size());
    add_pause_names(state->pause_reasons, entry.paused_for);
    status.retry_held += entry.retry_held;
  });
  status.destinations.clear();
  destinations_->for_each([&](Destination& destination) {
    DestinationStatus& entry = status.destinations.emplace_back();
    entry.name = destination.name();
    entry.breaker = std::string(breaker_state_name(destination.breaker().current_state()));
    entry.queued = static_cast<int64_t>(destination.queued());
    entry.waiting = static_cast<int64_t>(destination.waiting_on_breaker());
    entry.in_flight = destination.in_flight();
  });
  status.in_flight_records = pool_.live();
  status.in_flight_bytes = in_flight_bytes_;
  status.dedup_backend = std::string(dedup_store_->backend_name());
  lifecycle_->on_status(status);
}

}  // namespace sluice::engine
