#include "engine/parked_keys.h"

#include <algorithm>

#include "common/assert.h"

namespace sluice::engine {

const ParkedKeys::KeyState* ParkedKeys::find(Partition partition, std::string_view key) const {
  auto keys = partitions_.find(partition);
  if (keys == partitions_.end()) return nullptr;
  auto it = keys->second.find(key);
  return it == keys->second.end() ? nullptr : &it->second;
}

ParkedKeys::KeyState* ParkedKeys::find(Partition partition, std::string_view key) {
  return const_cast<KeyState*>(static_cast<const ParkedKeys*>(this)->find(partition, key));
}

ParkedKeys::Decision ParkedKeys::before_forward(Partition partition, std::string_view key, int64_t offset, Gate gate) {
  if (partitions_.empty()) return Decision::Go;  // the common case: nothing parked anywhere
  KeyState* state = find(partition, key);
  if (state == nullptr) return Decision::Go;
  if (offset <= state->doomed_through) return Decision::DeadLetter;
  for (auto it = state->members.begin(); it != state->members.end() && it->first < offset; ++it) {
    if (!(it->second.gate == gate)) return Decision::Park;
  }
  // Every earlier member is ahead of it in `gate`: it follows them there.
  if (auto self = state->members.find(offset); self != state->members.end()) self->second.gate = gate;
  return Decision::Go;
}

ParkedKeys::KeyState* ParkedKeys::join(Partition partition, std::string_view key, int64_t offset, int tier) {
  Keys& keys = partitions_[partition];
  auto it = keys.find(key);
  if (it == keys.end()) {
    if (keys_ >= max_keys_) {
      if (keys.empty()) partitions_.erase(partition);
      return nullptr;
    }
    it = keys.emplace(std::string(key), KeyState{}).first;
    keys_ += 1;
    key_hashes_[hash_of(key)] += 1;
  }
  KeyState& state = it->second;
  auto [member, inserted] = state.members.try_emplace(offset);
  member->second.gate = Gate{};  // not waiting in a gate: in a tier, or on its way there
  if (inserted) records_ += 1;
  state.tier = std::max(state.tier, tier);
  return &state;
}

bool ParkedKeys::to_tier(Partition partition, std::string_view key, int64_t offset, int tier, int64_t write) {
  KeyState* state = join(partition, key, offset, tier);
  if (state == nullptr) return false;
  state->tier = tier;  // where it went last: where its followers go
  Member& member = state->members[offset];
  member.write = std::max(member.write, write);
  return true;
}

bool ParkedKeys::wait_at_dedup(Partition partition, std::string_view key, int64_t offset) {
  return join(partition, key, offset, 0) != nullptr;
}

ParkedKeys::Read ParkedKeys::read_from_tier(Partition partition, std::string_view key, int64_t offset, int tier,
                                            int64_t write) {
  if (KeyState* state = find(partition, key)) {
    if (auto member = state->members.find(offset); member != state->members.end() && write < member->second.write) {
      return Read::SpareCopy;
    }
  }
  KeyState* state = join(partition, key, offset, tier);
  if (state == nullptr) return Read::Refused;
  Member& member = state->members[offset];
  member.write = std::max(member.write, write);
  return Read::Joined;
}

bool ParkedKeys::scanned(Partition partition, std::string_view key, int64_t offset, int tier, int64_t write) {
  KeyState* state = join(partition, key, offset, tier);
  if (state == nullptr) return false;
  Member& member = state->members[offset];
  member.write = std::max(member.write, write);
  return true;
}

void ParkedKeys::leave_gate(Partition partition, std::string_view key, int64_t offset) {
  KeyState* state = find(partition, key);
  if (state == nullptr) return;
  if (auto member = state->members.find(offset); member != state->members.end()) member->second.gate = Gate{};
}

void ParkedKeys::finished(Partition partition, std::string_view key, int64_t offset, bool own_dead_letter) {
  auto keys = partitions_.find(partition);
  if (keys == partitions_.end()) return;
  auto it = keys->second.find(key);
  if (it == keys->second.end()) return;
  KeyState& state = it->second;
  if (state.members.erase(offset) != 0) records_ -= 1;
  if (own_dead_letter && dead_letter_followers_ && !state.members.empty()) {
    state.doomed_through = std::max(state.doomed_through, state.members.rbegin()->first);
  }
  erase_if_empty(partition, keys->second, it);
}

void ParkedKeys::erase_if_empty(Partition partition, Keys& keys, Keys::iterator it) {
  if (!it->second.members.empty()) return;
  forget_hash(it->first);
  keys.erase(it);
  keys_ -= 1;
  if (keys.empty()) partitions_.erase(partition);
}

int ParkedKeys::tier_of(Partition partition, std::string_view key) const {
  const KeyState* state = find(partition, key);
  return state == nullptr ? 0 : state->tier;
}

int64_t ParkedKeys::head_of(Partition partition, std::string_view key) const {
  const KeyState* state = find(partition, key);
  return state == nullptr || state->members.empty() ? -1 : state->members.begin()->first;
}

void ParkedKeys::forget_hash(std::string_view key) {
  auto it = key_hashes_.find(hash_of(key));
  SLUICE_ASSERT(it != key_hashes_.end() && it->second > 0, "a parked key's hash is counted");
  if (--it->second == 0) key_hashes_.erase(it);
}

void ParkedKeys::forget(Partition partition) {
  auto keys = partitions_.find(partition);
  if (keys == partitions_.end()) return;
  for (const auto& [key, state] : keys->second) {
    records_ -= state.members.size();
    forget_hash(key);
  }
  keys_ -= keys->second.size();
  partitions_.erase(keys);
}

}  // namespace sluice::engine
