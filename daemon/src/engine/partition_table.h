#pragma once
// The assigned input partitions: their state, the lookup of a consumed record's partition,
// and their pauses. A partition is paused in the consumer while any reason holds it (see
// PauseReason); the table applies every change to the consumer at once, and keeps the
// reasons that hold every partition (stopping, backpressure, dedup store down) so that a
// partition assigned meanwhile starts with them.
//
// Threading: engine thread only.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/partition_state.h"
#include "kafka/consumer_api.h"
#include "kafka/message.h"

namespace sluice::engine {

class PartitionTable {
 public:
  using StatePtr = std::shared_ptr<PartitionState>;
  // Makes the state of a newly assigned partition (metric handles, retry tier).
  using StateFactory = std::function<StatePtr(const std::string& topic, int32_t partition)>;

  PartitionTable(kafka::ConsumerApi& consumer, StateFactory make_state)
      : consumer_(consumer), make_state_(std::move(make_state)) {}

  // A fresh state for an assigned partition, paused for the global reasons in force. Not yet
  // applied to the consumer (apply_pauses()).
  PartitionState& add(const std::string& topic, int32_t partition);
  // Marks the partition revoked and drops it; returns its state (nullptr if unknown).
  StatePtr remove(std::string_view topic, int32_t partition);
  // Replaces every state by a fresh one with the same global pauses (a rewind); the old
  // states are marked revoked and returned.
  std::vector<StatePtr> renew_all();

  // The state of a consumed record's partition, nullptr when it is not assigned (any more).
  // Batches are mostly runs of one partition: the last answer is kept.
  const StatePtr* of(const kafka::Message& message);
  StatePtr find(std::string_view topic, int32_t partition) const;

  void set_pause(PartitionState& partition, uint32_t reason, bool paused);
  void set_pause_all(uint32_t reason, bool paused);
  // Tells the consumer what changed for `partitions` (all when empty).
  void apply_pauses(const std::vector<PartitionState*>& partitions);
  uint32_t global_pauses() const { return global_pauses_; }
  // Whether a partition was resumed since the last call (records may be waiting).
  bool take_resumed() {
    bool resumed = resumed_;
    resumed_ = false;
    return resumed;
  }

  size_t size() const { return partitions_.size(); }
  int64_t paused_count() const;
  template <typename Fn>
  void for_each(Fn&& fn) const {
    for (const auto& [key, state] : partitions_) fn(state);
  }

 private:
  kafka::ConsumerApi& consumer_;
  StateFactory make_state_;
  std::map<std::pair<std::string, int32_t>, StatePtr, std::less<>> partitions_;
  uint32_t global_pauses_ = 0;
  bool resumed_ = false;
  struct LastLookup {
    const char* topic = nullptr;
    int32_t partition = -1;
    StatePtr state;
  } last_;
};

}  // namespace sluice::engine
