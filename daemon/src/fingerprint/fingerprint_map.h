#pragma once
// Hash tables keyed by fingerprint, for the per-record bookkeeping on the engine thread (the
// owner of each fingerprint in flight, the dedup stores' reservations and windows).
//
// Why not std::unordered_map: each of those tables takes one insert and one erase per record,
// and a node-based map allocates and frees a node for each, then follows a pointer into a
// cold node for each lookup. Here the entries live in one array (open addressing, linear
// probing, backward-shift deletion), so an insert or erase allocates nothing and a lookup
// reads one or two neighbouring slots. The array doubles when it is three quarters full and
// never shrinks: a table sized for a burst keeps its memory, as the node maps' bucket arrays
// did.
//
// Keys are SHA-256 digests, so any of their bits is a uniform hash; the bits are still mixed,
// so that tests with hand-made fingerprints (mostly zero bytes) do not all collide.
//
// Threading: none; each table belongs to one thread, or is only read (the const members) by
// several. Pointers returned by find() and try_emplace() stay valid until the next insertion
// or erase.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "common/assert.h"
#include "fingerprint/fingerprint.h"

namespace sluice::fingerprint {

template <typename Value>
class FingerprintMap {
 public:
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  Value* find(const Fingerprint& key) {
    const size_t at = slot_of(key);
    return at == kAbsent ? nullptr : &slots_[at].value;
  }
  const Value* find(const Fingerprint& key) const {
    const size_t at = slot_of(key);
    return at == kAbsent ? nullptr : &slots_[at].value;
  }
  bool contains(const Fingerprint& key) const { return find(key) != nullptr; }

  // Starts loading the slot where a lookup of `key` begins. For callers with a batch of keys:
  // a table sized for production traffic is far larger than the CPU cache, so each lookup
  // would otherwise wait for memory; prefetching a few keys ahead overlaps those waits.
  void prefetch(const Fingerprint& key) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[home(key)]);
  }

  // Inserts `value` under `key` unless the key is present. Returns the entry's value and
  // whether it was inserted.
  std::pair<Value*, bool> try_emplace(const Fingerprint& key, Value value) {
    if ((size_ + 1) * 4 > slots_.size() * 3) grow();
    size_t at = home(key);
    for (; slots_[at].used; at = next(at)) {
      if (slots_[at].key == key) return {&slots_[at].value, false};
    }
    Slot& slot = slots_[at];
    slot.key = key;
    slot.value = std::move(value);
    slot.used = true;
    ++size_;
    return {&slot.value, true};
  }

  // Sets the value under `key`, inserting the key if it is absent.
  void insert_or_assign(const Fingerprint& key, Value value) {
    auto [entry, inserted] = try_emplace(key, value);
    if (!inserted) *entry = std::move(value);
  }

  // Removes `key`; false when it was absent.
  bool erase(const Fingerprint& key) {
    const size_t at = slot_of(key);
    if (at == kAbsent) return false;
    remove_at(at);
    return true;
  }

  void clear() {
    if (size_ == 0) return;
    for (Slot& slot : slots_) slot = Slot{};
    size_ = 0;
  }

  // Calls fn(key, value) for every entry, in no particular order. fn must not change the map.
  template <typename Fn>
  void for_each(Fn&& fn) const {
    for (const Slot& slot : slots_) {
      if (slot.used) fn(slot.key, slot.value);
    }
  }

 private:
  struct Slot {
    Fingerprint key;
    Value value{};
    bool used = false;
  };

  static constexpr size_t kInitialSlots = 64;
  static constexpr size_t kAbsent = ~size_t{0};

  // The slot holding `key`, or kAbsent.
  size_t slot_of(const Fingerprint& key) const {
    if (size_ == 0) return kAbsent;
    for (size_t at = home(key);; at = next(at)) {
      const Slot& slot = slots_[at];
      if (!slot.used) return kAbsent;
      if (slot.key == key) return at;
    }
  }

  size_t home(const Fingerprint& key) const {
    uint64_t words[4];
    std::memcpy(words, key.bytes.data(), sizeof words);
    uint64_t mixed = (words[0] ^ words[1] ^ words[2] ^ words[3]) * 0x9E3779B97F4A7C15ull;
    return static_cast<size_t>(mixed >> shift_);
  }
  size_t next(size_t at) const { return (at + 1) & (slots_.size() - 1); }

  // Backward-shift deletion: every later entry of the same run whose probe path passes the
  // freed slot moves into it, so lookups never need tombstones.
  void remove_at(size_t hole) {
    const size_t mask = slots_.size() - 1;
    for (size_t at = next(hole); slots_[at].used; at = next(at)) {
      size_t wanted = home(slots_[at].key);
      // The entry may fill the hole if the hole lies on its path from `wanted` to `at`.
      if (((at - wanted) & mask) >= ((at - hole) & mask)) {
        slots_[hole] = std::move(slots_[at]);
        hole = at;
      }
    }
    slots_[hole] = Slot{};
    --size_;
  }

  void grow() {
    std::vector<Slot> old = std::move(slots_);
    size_t capacity = old.empty() ? kInitialSlots : old.size() * 2;
    slots_.assign(capacity, Slot{});
    shift_ = 64;
    for (size_t c = capacity; c > 1; c >>= 1) --shift_;
    size_ = 0;
    for (Slot& slot : old) {
      if (!slot.used) continue;
      size_t at = home(slot.key);
      while (slots_[at].used) at = next(at);
      slots_[at] = std::move(slot);
      ++size_;
    }
    SLUICE_ASSERT(size_ * 4 < slots_.size() * 3, "a grown fingerprint map has room");
  }

  std::vector<Slot> slots_;
  size_t size_ = 0;
  unsigned shift_ = 64;  // 64 - log2(capacity): home() keeps the high bits of the mixed hash
};

// A set of fingerprints with the same layout.
class FingerprintSet {
 public:
  size_t size() const { return map_.size(); }
  bool empty() const { return map_.empty(); }
  bool contains(const Fingerprint& key) const { return map_.contains(key); }
  void prefetch(const Fingerprint& key) const { map_.prefetch(key); }
  // False when the key was already present.
  bool insert(const Fingerprint& key) { return map_.try_emplace(key, Present{}).second; }
  bool erase(const Fingerprint& key) { return map_.erase(key); }
  void clear() { map_.clear(); }

 private:
  struct Present {};
  FingerprintMap<Present> map_;
};

}  // namespace sluice::fingerprint
