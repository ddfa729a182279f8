#pragma once
// What both committers are built from: a recording consumer and dedup store, a real
// coordinator and partition table over them, and partitions with offsets to complete.

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "engine/clock.h"
#include "engine/dedup_coordinator.h"
#include "engine/partition_table.h"
#include "kafka_helpers.h"
#include "metrics/metrics.h"

namespace sluice::engine::testing {

struct CommitterParts {
  // `confirm_at_commit`: the coordinator of an exactly-once engine.
  explicit CommitterParts(bool confirm_at_commit = false) : dedup(store, false, confirm_at_commit, metrics) {
    store.events = &consumer.events;
  }

  // An assigned partition with offsets [0, consumed) tracked and `done` of them completed.
  std::shared_ptr<PartitionState> partition(const std::string& topic, int32_t id, int64_t consumed,
                                            std::initializer_list<int64_t> done) {
    table.add(topic, id);
    auto state = table.find(topic, id);
    for (int64_t offset = 0; offset < consumed; ++offset) state->offsets.track(offset);
    for (int64_t offset : done) REQUIRE(state->offsets.complete(offset));
    return state;
  }
  // A record of `partition` that reserved its fingerprint and was forwarded.
  fingerprint::Fingerprint forward_one(const std::shared_ptr<PartitionState>& partition, int content) {
    InFlightRecord& record = records.emplace_back();
    record.partition = partition;
    record.fingerprint.bytes[0] = static_cast<unsigned char>(content);
    dedup.enqueue(record);
    std::vector<DedupCoordinator::Answer> answers;
    std::vector<InFlightRecord*> duplicates;
    dedup.run_round(answers, duplicates);
    REQUIRE(record.holds_reservation);
    dedup.forwarded(record, duplicates);
    return record.fingerprint;
  }

  metrics::Metrics metrics;
  SystemClock clock;
  RecordingConsumer consumer;
  RecordingDedupStore store;
  PartitionTable table{consumer, [](const std::string& topic, int32_t id) {
                         return std::make_shared<PartitionState>(topic, id);
                       }};
  std::deque<InFlightRecord> records;
  DedupCoordinator dedup;
};

inline std::vector<std::pair<std::string, int64_t>> positions_of(const std::vector<kafka::PartitionOffset>& offsets) {
  std::vector<std::pair<std::string, int64_t>> out;
  for (const auto& entry : offsets) out.emplace_back(entry.topic + "/" + std::to_string(entry.partition), entry.offset);
  return out;
}

}  // namespace sluice::engine::testing
