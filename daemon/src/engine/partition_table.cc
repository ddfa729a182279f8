#include "engine/partition_table.h"

namespace sluice::engine {

PartitionState& PartitionTable::add(const std::string& topic, int32_t partition) {
  StatePtr state = make_state_(topic, partition);
  state->pause_reasons = global_pauses_;
  StatePtr& slot = partitions_[std::make_pair(topic, partition)];
  if (slot) slot->revoked = true;  // assigned again without a revocation in between
  slot = std::move(state);
  last_ = {};
  return *slot;
}

PartitionTable::StatePtr PartitionTable::remove(std::string_view topic, int32_t partition) {
  auto it = partitions_.find(std::make_pair(std::string(topic), partition));
  if (it == partitions_.end()) return nullptr;
  StatePtr state = std::move(it->second);
  partitions_.erase(it);
  state->revoked = true;
  last_ = {};
  return state;
}

std::vector<PartitionTable::StatePtr> PartitionTable::renew_all() {
  std::vector<StatePtr> old;
  for (auto& [key, state] : partitions_) {
    StatePtr fresh = make_state_(state->topic, state->partition);
    fresh->pause_reasons = state->pause_reasons & kGlobalPauses;
    fresh->paused_in_client = state->paused_in_client;
    state->revoked = true;
    old.push_back(std::move(state));
    state = std::move(fresh);
  }
  last_ = {};
  return old;
}

const PartitionTable::StatePtr* PartitionTable::of(const kafka::Message& message) {
  const char* topic = message.topic();
  // The pointer says "same topic" for librdkafka's records; a built record's name lives in the
  // record, so a later one may reuse the address for another topic: then the name is compared.
  if (topic != last_.topic || message.partition() != last_.partition || !last_.state ||
      (!message.topic_is_shared() && last_.state->topic != topic)) {
    auto it = partitions_.find(std::make_pair(std::string(topic), message.partition()));
    if (it == partitions_.end()) return nullptr;
    last_ = {topic, message.partition(), it->second};
  }
  return &last_.state;
}

PartitionTable::StatePtr PartitionTable::find(std::string_view topic, int32_t partition) const {
  auto it = partitions_.find(std::make_pair(std::string(topic), partition));
  return it == partitions_.end() ? nullptr : it->second;
}

void PartitionTable::apply_pauses(const std::vector<PartitionState*>& partitions) {
  std::vector<kafka::TopicPartition> to_pause;
  std::vector<kafka::TopicPartition> to_resume;
  auto consider = [&](PartitionState& partition) {
    bool want = partition.pause_reasons != 0;
    if (want == partition.paused_in_client || partition.revoked) return;
    (want ? to_pause : to_resume).push_back({partition.topic, partition.partition});
    partition.paused_in_client = want;
  };
  if (partitions.empty()) {
    for (auto& [key, state] : partitions_) consider(*state);
  } else {
    for (PartitionState* partition : partitions) consider(*partition);
  }
  consumer_.pause(to_pause);
  if (!to_resume.empty()) {
    consumer_.resume(to_resume);
    resumed_ = true;
  }
}

void PartitionTable::set_pause(PartitionState& partition, uint32_t reason, bool paused) {
  uint32_t before = partition.pause_reasons;
  if (paused) {
    partition.pause_reasons |= reason;
  } else {
    partition.pause_reasons &= ~reason;
  }
  if (partition.pause_reasons != before) apply_pauses({&partition});
}

void PartitionTable::set_pause_all(uint32_t reason, bool paused) {
  if (paused) {
    global_pauses_ |= reason;
  } else {
    global_pauses_ &= ~reason;
  }
  for (auto& [key, state] : partitions_) {
    if (paused) {
      state->pause_reasons |= reason;
    } else {
      state->pause_reasons &= ~reason;
    }
  }
  apply_pauses({});
}

int64_t PartitionTable::paused_count() const {
  int64_t paused = 0;
  for (const auto& [key, state] : partitions_) paused += state->paused_in_client ? 1 : 0;
  return paused;
}

}  // namespace sluice::engine
