#pragma once
// retry.ordering: key — which keys of which input partitions have records in the retry tiers,
// so that a key's later records follow its failed record instead of overtaking it.
//
// A key is parked while any of its records is in the tiers or on its way there; those records
// are its members, named by their offset in the input partition. A record of a parked key may
// go on to its destination only when every member before it waits in the same destination gate,
// ahead of it (a gate sends one record at a time, in queue order); otherwise it is parked too:
// sent to the tier the key's records went to last, behind them. A member leaves when it
// reaches its final outcome, and the key is released when it has none. Records of other keys
// are never looked at.
//
// With dead_letter_followers, the members a key has when one of them is dead-lettered for its
// own sake (bad data, retries exhausted) are dead-lettered too when they come up
// (predecessor_dead_lettered); records parked after that are not.
//
// The state is what this instance saw: the records it sent to a tier and the tier records it
// read. After a restart or a rebalance the engine rebuilds it by reading the tier partitions to
// their end before their input partitions resume (Engine::start_parking_scans).
//
// Threading: engine thread only.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>

namespace sluice::engine {

class ParkedKeys {
 public:
  // The input partition a record's order belongs to (its PartitionState).
  using Partition = const void*;
  // A destination gate: the destination and the partition the record was consumed from (the
  // gates of `ordering: partition` and `key` are per consumed partition).
  struct Gate {
    int destination = -1;
    const void* consumed_from = nullptr;
    bool operator==(const Gate&) const = default;
  };

  ParkedKeys(size_t max_keys, bool dead_letter_followers)
      : max_keys_(max_keys), dead_letter_followers_(dead_letter_followers) {}

  enum class Decision {
    Go,          // on to its destination (queued in `gate`)
    Park,        // into the tiers behind its key's earlier records
    DeadLetter,  // an earlier record of its key was dead-lettered (predecessor_dead_lettered)
  };
  // For the record at `offset` of `partition` with `key`, about to join destination gate `gate`.
  Decision before_forward(Partition partition, std::string_view key, int64_t offset, Gate gate);

  // Every tier record of a key's record carries how often that record was written to a tier
  // (its `write`, 1 for the first): a record parked again and again while a rebalance keeps its
  // tier offsets from being committed is read again in older copies too, and each of those,
  // parked again, would multiply. A member knows its latest write; an older copy is a spare.

  // The record at `offset` goes to `tier` as its `write`-th tier record: it failed, or it is
  // parked. False, and nothing is parked, when its key is not parked yet and max_keys are
  // (parking a record of a parked key always succeeds).
  bool to_tier(Partition partition, std::string_view key, int64_t offset, int tier, int64_t write);
  // A tier record of `partition` at `offset`, its record's `write`-th, was read from `tier`: it
  // is a member of its key, or a spare copy (an older write than one known).
  enum class Read { Joined, SpareCopy, Refused /* its key is new and max_keys are parked */ };
  Read read_from_tier(Partition partition, std::string_view key, int64_t offset, int tier, int64_t write);
  // A tier record seen by the scan that rebuilds the parked keys (it is read again after).
  bool scanned(Partition partition, std::string_view key, int64_t offset, int tier, int64_t write);
  // The record at `offset` waits on an identical record (in flight here, or whose fingerprint
  // another instance holds), while later records of its key would pass it: it holds its key as
  // a member in no gate, so they are parked behind it. False, as to_tier.
  bool wait_at_dedup(Partition partition, std::string_view key, int64_t offset);
  // The record at `offset` left its gate without an outcome yet (e.g. its DLQ record is being
  // written): records after it no longer follow it there.
  void leave_gate(Partition partition, std::string_view key, int64_t offset);
  // The record at `offset` reached its final outcome. `own_dead_letter`: it was dead-lettered
  // for its own sake, which, with dead_letter_followers, dooms the key's other members.
  void finished(Partition partition, std::string_view key, int64_t offset, bool own_dead_letter);

  // Whether `key` of `partition` has members, and the tier its records went to last.
  bool parked(Partition partition, std::string_view key) const { return find(partition, key) != nullptr; }
  int tier_of(Partition partition, std::string_view key) const;
  // The key's first member (-1: none).
  int64_t head_of(Partition partition, std::string_view key) const;

  // Forgets everything about `partition` (revoked: its next owner rebuilds it).
  void forget(Partition partition);

  // False when no key hashing to `key_hash` (std::hash<std::string_view> of the key, as the
  // stage thread computes it) is parked in any partition: then the key certainly is not, and
  // its bytes, long out of the cache on the engine thread, need not be read. True means it may
  // be (ask with the key).
  bool may_be_parked(uint64_t key_hash) const { return keys_ != 0 && key_hashes_.count(key_hash) != 0; }

  size_t keys() const { return keys_; }
  size_t records() const { return records_; }
  size_t max_keys() const { return max_keys_; }

 private:
  struct Member {
    Gate gate;          // the gate it waits in (destination -1: none)
    int64_t write = 0;  // its latest tier record known (0: none)
  };
  struct KeyState {
    std::map<int64_t, Member> members;  // by offset
    int tier = 0;
    int64_t doomed_through = -1;  // members up to this offset are dead-lettered when they come
  };
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view text) const { return std::hash<std::string_view>()(text); }
  };
  using Keys = std::unordered_map<std::string, KeyState, StringHash, std::equal_to<>>;

  const KeyState* find(Partition partition, std::string_view key) const;
  KeyState* find(Partition partition, std::string_view key);
  // Makes the record at `offset` a member of its key (sent to or read from `tier`); nullptr
  // when the key is new and max_keys are parked.
  KeyState* join(Partition partition, std::string_view key, int64_t offset, int tier);
  void erase_if_empty(Partition partition, Keys& keys, Keys::iterator it);
  static uint64_t hash_of(std::string_view key) { return std::hash<std::string_view>()(key); }
  void forget_hash(std::string_view key);

  const size_t max_keys_;
  const bool dead_letter_followers_;
  std::unordered_map<Partition, Keys> partitions_;
  std::unordered_map<uint64_t, uint32_t> key_hashes_;  // of every parked key, with how many share it
  size_t keys_ = 0;
  size_t records_ = 0;
};

}  // namespace sluice::engine
