#pragma once
// Test doubles for a Destination: a sink that records every send and answers as told, and
// DestinationEvents that record every call (and check that outage holds stay balanced).

#include <catch2/catch.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/destination.h"
#include "engine/in_flight_record.h"
#include "engine/partition_state.h"
#include "engine/sink.h"
#include "kafka/message.h"

namespace sluice::engine::testing {

using TimePoint = std::chrono::steady_clock::time_point;

class RecordingSink final : public Sink {
 public:
  const std::string& name() const override { return name_; }
  SendResult send(InFlightRecord& record) override {
    sent.push_back(&record);
    if (answers.empty()) return {SendStatus::Accepted, {}};
    SendResult result = answers.front();
    answers.pop_front();
    return result;
  }

  void send_batch(const Batch& batch) override { batches.push_back(batch); }

  std::vector<InFlightRecord*> sent;  // every send, in order, whatever the answer
  std::deque<SendResult> answers;     // the next answers; Accepted once empty
  std::vector<Batch> batches;         // every batch sent, in order (a batched destination)

 private:
  std::string name_ = "topic:clean.email";
};

class RecordingEvents final : public DestinationEvents {
 public:
  void on_dispatched(InFlightRecord& record) override { dispatched.push_back(&record); }
  void on_refused(InFlightRecord& record, const std::string& error) override {
    refused.emplace_back(&record, error);
    if (refused_hook) refused_hook(record);
  }
  void wake_destination_at(int, TimePoint when) override { wakes.push_back(when); }
  void hold_for_outage(PartitionState& partition, bool held) override {
    int& count = holds[&partition];
    // A hold is taken once and given back once: a second hold or a release of nothing would
    // leave the partition paused (or resumed) for the wrong reason.
    CHECK(count == (held ? 0 : 1));
    count += held ? 1 : -1;
    hold_calls.emplace_back(&partition, held);
  }
  void on_breaker_transition(int, BreakerState from, BreakerState to) override { transitions.emplace_back(from, to); }
  void on_rate_limited(InFlightRecord& record) override { rate_limited.push_back(&record); }
  void on_batch_sent(int, const Batch& batch) override { batch_sizes.push_back(batch.records.size()); }
  void on_batch_split(int) override { splits += 1; }

  bool held(const PartitionState& partition) const {
    auto it = holds.find(&partition);
    return it != holds.end() && it->second > 0;
  }

  std::vector<InFlightRecord*> dispatched;
  std::vector<std::pair<InFlightRecord*, std::string>> refused;
  // Called from on_refused, as the engine acts on a refusal while the destination sends.
  std::function<void(InFlightRecord&)> refused_hook;
  std::vector<TimePoint> wakes;
  std::map<const PartitionState*, int> holds;
  std::vector<std::pair<PartitionState*, bool>> hold_calls;
  std::vector<std::pair<BreakerState, BreakerState>> transitions;
  std::vector<InFlightRecord*> rate_limited;
  std::vector<size_t> batch_sizes;
  int splits = 0;
};

// The offsets of `records`, in order.
inline std::vector<int64_t> offsets_of(const std::vector<InFlightRecord*>& records) {
  std::vector<int64_t> offsets;
  for (const InFlightRecord* record : records) offsets.push_back(record->offset);
  return offsets;
}

// A destination with its fakes, records made on demand and a clock moved by hand.
struct DestinationFixture {
  explicit DestinationFixture(config::Ordering ordering, int capacity = 0, BreakerSettings breaker = {})
      : sink(new RecordingSink),
        destination(0, std::unique_ptr<Sink>(sink), nullptr, ordering, capacity, breaker, events) {}

  std::shared_ptr<PartitionState> partition(int32_t id) {
    auto& state = partitions[id];
    if (!state) state = std::make_shared<PartitionState>("inbound.email", id);
    return state;
  }
  InFlightRecord& record(int32_t partition_id, int64_t offset, std::string key = "k") {
    InFlightRecord& record = records.emplace_back();
    record.partition = partition(partition_id);
    record.offset = offset;
    kafka::Message::Fields fields;
    fields.topic = "inbound.email";
    fields.partition = partition_id;
    fields.offset = offset;
    fields.key = std::move(key);
    fields.value = "{}";
    record.message = kafka::Message::build(std::move(fields));
    return record;
  }
  // Offers `record` now.
  InFlightRecord& offer(InFlightRecord& record) {
    destination.offer(record, now);
    return record;
  }
  InFlightRecord& offer(int32_t partition_id, int64_t offset, std::string key = "k") {
    return offer(record(partition_id, offset, std::move(key)));
  }
  // A result as the engine hands it over: on_result, then pump.
  Destination::Verdict answer(InFlightRecord& record, Destination::Result result,
                              std::optional<std::chrono::milliseconds> retry_after = std::nullopt) {
    Destination::Verdict verdict = destination.on_result(record, result, now, retry_after);
    // Answered and not queued again: no longer in flight for first_in_flight().
    if (record.step() == Step::Forwarding) record.set_step(Step::Dedup);
    destination.pump(now);
    return verdict;
  }
  Destination::Verdict fail(InFlightRecord& record) { return answer(record, Destination::Result::Transient); }
  Destination::Verdict succeed(InFlightRecord& record) { return answer(record, Destination::Result::Delivered); }

  // The earliest sent record not answered yet, nullptr when none is.
  InFlightRecord* first_in_flight() const {
    for (InFlightRecord* sent : sink->sent) {
      if (sent->step() == Step::Forwarding) return sent;
    }
    return nullptr;
  }
  // Answers every record in flight, and every record sent meanwhile, as delivered (in the
  // order they were sent); returns their offsets in that order.
  std::vector<int64_t> deliver_all() {
    std::vector<int64_t> delivered;
    while (InFlightRecord* next = first_in_flight()) {
      CHECK(succeed(*next) == Destination::Verdict::Delivered);
      delivered.push_back(next->offset);
    }
    return delivered;
  }

  // The records sent since `from` (an index into sink->sent), as offsets.
  std::vector<int64_t> sent_offsets(size_t from = 0) const {
    std::vector<int64_t> offsets;
    for (size_t i = from; i < sink->sent.size(); ++i) offsets.push_back(sink->sent[i]->offset);
    return offsets;
  }
  // Of those, the ones of `partition_id`.
  std::vector<int64_t> sent_offsets_of(int32_t partition_id, size_t from = 0) const {
    std::vector<int64_t> offsets;
    for (size_t i = from; i < sink->sent.size(); ++i) {
      if (sink->sent[i]->partition->partition == partition_id) offsets.push_back(sink->sent[i]->offset);
    }
    return offsets;
  }
  InFlightRecord& last_sent() const {
    REQUIRE_FALSE(sink->sent.empty());
    return *sink->sent.back();
  }

  TimePoint now = TimePoint{} + std::chrono::hours(1);
  RecordingEvents events;
  RecordingSink* sink;  // owned by the destination
  Destination destination;
  std::map<int32_t, std::shared_ptr<PartitionState>> partitions;
  std::deque<InFlightRecord> records;  // deque: records never move
};

// Settings that open the breaker after `failures` consecutive failures.
inline BreakerSettings breaker_settings(int failures, int probes = 1, int successes = 1,
                                        std::chrono::milliseconds open_timeout = std::chrono::seconds(60)) {
  BreakerSettings settings;
  settings.failure_threshold = failures;
  settings.half_open_max_calls = probes;
  settings.success_threshold = successes;
  settings.open_timeout = open_timeout;
  return settings;
}

}  // namespace sluice::engine::testing
