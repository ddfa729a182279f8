// The engine in its consumer group: assignments, revocations (and lost partitions), the
// rewind after an aborted transaction, and the consumer's own events.

#include <algorithm>

#include "common/log.h"
#include "engine/engine.h"
#include "kafka/client.h"

namespace sluice::engine {
namespace {

using std::chrono::milliseconds;

// How long a revoked partition's in-flight deliveries may hold up a rebalance before the
// records are given up (they are redelivered to the new owner). Well below
// max.poll.interval.ms, so the group never evicts us for it.
constexpr milliseconds kRevokeDrainLimit{10'000};
// Bounds of the broker round trips of a rewind.
constexpr milliseconds kRewindTimeout{10'000};

}  // namespace

std::shared_ptr<PartitionState> Engine::new_partition_state(const std::string& topic, int32_t partition) {
  auto state = std::make_shared<PartitionState>(topic, partition);
  state->consumed_counter = &metrics_.counter(metrics::MetricId::RecordsConsumed, {{"topic", topic}});
  state->retry_tier = tiers_.tier_of(topic);
  state->last_progress = clock_.now();
  return state;
}

void Engine::on_assigned(const std::vector<kafka::TopicPartition>& assigned) {
  std::vector<PartitionState*> created;
  for (const kafka::TopicPartition& entry : assigned) created.push_back(&partitions_->add(entry.topic, entry.partition));
  // A new partition joins whatever global pause is in force (shutdown, backpressure, ...).
  partitions_->apply_pauses(created);
  if (parked_) start_parking_scans(assigned);
  consumer_may_have_more_ = true;
  if (!joined_) {
    joined_ = true;
    lifecycle_->on_joined();
  }
  connectivity_.on_assigned(clock_.now());
  report_connectivity();
  publish_status();
  log::info("partitions assigned",
            {{"count", static_cast<int64_t>(assigned.size())}, {"assigned_total", static_cast<int64_t>(partitions_->size())}});
}

void Engine::on_revoked(const std::vector<kafka::TopicPartition>& partitions, bool lost) {
  std::vector<std::shared_ptr<PartitionState>> revoked;
  for (const kafka::TopicPartition& entry : partitions) {
    if (auto state = partitions_->find(entry.topic, entry.partition)) revoked.push_back(state);
  }
  Committer::Result result = Committer::Result::Nothing;
  if (!finished_) {
    // A lost partition's deliveries count for nothing (nothing may be committed for it); a
    // revoked one's may finish first, so their offsets are committed before another
    // instance takes over.
    if (!lost) drain_revoked(revoked);
    result = committer_->revoke(revoked, lost);
  }
  drop_partitions(revoked);
  act_on_commit(result);
  connectivity_.on_revoked(lost, partitions_->size(), clock_.now());
  report_connectivity();
  publish_status();
  log::write(lost ? log::Level::Warn : log::Level::Info, lost ? "partitions lost" : "partitions revoked",
             {{"count", static_cast<int64_t>(partitions.size())}, {"assigned_total", static_cast<int64_t>(partitions_->size())}});
}

void Engine::drain_revoked(const std::vector<std::shared_ptr<PartitionState>>& revoked) {
  // Records a destination still holds back were not sent: give them up now.
  std::vector<InFlightRecord*> withdrawn;
  destinations_->for_each([&](Destination& destination) {
    for (const auto& state : revoked) destination.withdraw(state.get(), withdrawn);
  });
  for (InFlightRecord* record : withdrawn) abandon(record);
  auto producing = [&] {
    int64_t count = 0;
    for (const auto& state : revoked) count += state->awaiting_delivery;
    return count;
  };
  const auto deadline = clock_.now() + std::min(kRevokeDrainLimit, config_->shutdown.drain_timeout);
  while (producing() > 0 && clock_.now() < deadline && !fatal_error_.load()) {
    producer_->poll(milliseconds(10));
    drain_http_responses();
    dedup_->flush_updates();
    run_turns();
  }
}

void Engine::drop_partitions(const std::vector<std::shared_ptr<PartitionState>>& revoked) {
  std::vector<InFlightRecord*> given_up;
  for (const auto& state : revoked) {
    partitions_->remove(state->topic, state->partition);
    probe_.forget_partition(*state);
    if (parked_) parked_->forget(state.get());
    // Records held until due are simply released: the new owner reads them again from the
    // committed offset. So are those waiting for their turn to produce.
    given_up.insert(given_up.end(), state->held.begin(), state->held.end());
    state->held.clear();
    output_order_.forget(*state, given_up);
  }
  destinations_->for_each([&](Destination& destination) {
    for (const auto& state : revoked) destination.withdraw(state.get(), given_up);
  });
  // Records of revoked partitions that wait for nothing external are dropped now; those
  // waiting on a timer, a peer or the stage thread are dropped when they are next touched.
  for (InFlightRecord* record : given_up) abandon(record);
}

// Starts over from the last committed offsets: every partition gets fresh state, and every
// record of the old state is given up (their outputs were aborted; they are consumed and
// processed again).
void Engine::rewind() {
  std::vector<std::shared_ptr<PartitionState>> old = partitions_->renew_all();
  std::vector<InFlightRecord*> given_up;
  std::vector<kafka::PartitionOffset> positions;
  for (const auto& state : old) {
    given_up.insert(given_up.end(), state->held.begin(), state->held.end());
    state->held.clear();
    output_order_.forget(*state, given_up);
    positions.push_back({state->topic, state->partition});
  }
  destinations_->for_each([&](Destination& destination) { destination.withdraw(nullptr, given_up); });
  for (InFlightRecord* record : given_up) abandon(record);
  rd_kafka_resp_err_t committed_error = consumer_->committed(positions, kRewindTimeout);
  for (kafka::PartitionOffset& position : positions) {
    // No committed offset yet: start where a new group starts.
    if (committed_error != RD_KAFKA_RESP_ERR_NO_ERROR || position.offset < 0) position.offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  if (rd_kafka_resp_err_t seek_error = consumer_->seek(positions, kRewindTimeout); seek_error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    log::error("rewind failed; stopping", {{"error", kafka::error_name(seek_error)}});
    fatal_error_.store(true);
    return;
  }
  partitions_->apply_pauses({});
  // Delivery reports of the purged outputs: their records belong to revoked states now.
  producer_->poll(milliseconds(0));
  consumer_may_have_more_ = true;
}

void Engine::on_commit_result(rd_kafka_resp_err_t error, const std::vector<kafka::PartitionOffset>& offsets) {
  if (error == RD_KAFKA_RESP_ERR_NO_ERROR) connectivity_.on_broker_contact();
  committer_->on_commit_result(error, offsets);
}

void Engine::on_client_error(rd_kafka_resp_err_t error, const std::string& reason, bool fatal) {
  client_error("consumer", error, reason, fatal);
}

void Engine::client_error(std::string_view client, rd_kafka_resp_err_t error, const std::string& reason, bool fatal) {
  if (fatal) {
    log::error("fatal kafka client error; stopping", {{"client", client}, {"error", kafka::error_name(error)}, {"detail", reason}});
    fatal_error_.store(true);
    return;
  }
  probe_.on_client_error(client, error, reason, clock_.now());
  connectivity_.on_client_error(error, clock_.now());
}

}  // namespace sluice::engine
