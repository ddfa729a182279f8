#pragma once
// A hash table from a 64-bit name to an owned object, for names that are hashes already (a
// key's hash mixed with its partition): one array of slots, linear probing, removal by
// shifting the slots after it back (no tombstones), doubling once half full. A lookup reads
// one slot, usually in one cache line, where a node-based map reads a bucket and then a node,
// and a removal needs no walk to the node before it.
//
// Threading: none of its own; one thread at a time.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "common/assert.h"

namespace sluice::engine {

template <typename T>
class FlatTable {
 public:
  explicit FlatTable(int initial_bits = 10) { resize(initial_bits); }

  size_t size() const { return size_; }

  T* find(uint64_t name) const {
    for (size_t i = home(name);; i = (i + 1) & mask_) {
      const Slot& slot = slots_[i];
      if (!slot.value) return nullptr;
      if (slot.name == name) return slot.value.get();
    }
  }

  // Starts loading the slot where a search for `name` begins.
  void prefetch(uint64_t name) const { __builtin_prefetch(&slots_[home(name)]); }

  // Adds `value` under `name`, which is not in the table.
  T& insert(uint64_t name, std::unique_ptr<T> value) {
    SLUICE_ASSERT(value != nullptr, "a flat table holds objects, not nulls");
    if ((size_ + 1) * 2 > slots_.size()) resize(bits_ + 1);
    size_t i = home(name);
    while (slots_[i].value) {
      SLUICE_ASSERT(slots_[i].name != name, "a name is inserted once");
      i = (i + 1) & mask_;
    }
    slots_[i] = Slot{name, std::move(value)};
    size_ += 1;
    return *slots_[i].value;
  }

  // Removes `name`, handing its object back (nullptr when it is not there).
  std::unique_ptr<T> take(uint64_t name) {
    size_t hole = home(name);
    while (slots_[hole].value && slots_[hole].name != name) hole = (hole + 1) & mask_;
    if (!slots_[hole].value) return nullptr;
    std::unique_ptr<T> taken = std::move(slots_[hole].value);
    size_ -= 1;
    // Every slot after the hole, up to the next empty one, whose home is not cyclically in
    // (hole, slot] would no longer be found: it moves into the hole, which moves on to it.
    for (size_t next = (hole + 1) & mask_; slots_[next].value; next = (next + 1) & mask_) {
      const size_t wanted = home(slots_[next].name);
      const bool stays = hole < next ? (wanted > hole && wanted <= next) : (wanted > hole || wanted <= next);
      if (stays) continue;
      slots_[hole] = std::move(slots_[next]);
      hole = next;
    }
    slots_[hole] = Slot{};
    return taken;
  }

  // Calls `visit(name, object)` for every entry; the table must not change meanwhile.
  template <typename Visit>
  void for_each(Visit&& visit) const {
    for (const Slot& slot : slots_) {
      if (slot.value) visit(slot.name, static_cast<const T&>(*slot.value));
    }
  }
  template <typename Visit>
  void for_each(Visit&& visit) {
    for (Slot& slot : slots_) {
      if (slot.value) visit(slot.name, *slot.value);
    }
  }

 private:
  struct Slot {
    uint64_t name = 0;
    std::unique_ptr<T> value;  // nullptr: an empty slot
  };

  // The top bits: the names' best mixed ones.
  size_t home(uint64_t name) const { return static_cast<size_t>(name >> (64 - bits_)); }

  void resize(int bits) {
    std::vector<Slot> old = std::move(slots_);
    bits_ = bits;
    slots_ = std::vector<Slot>(size_t{1} << bits);
    mask_ = slots_.size() - 1;
    size_ = 0;
    for (Slot& slot : old) {
      if (slot.value) insert(slot.name, std::move(slot.value));
    }
  }

  std::vector<Slot> slots_;
  int bits_ = 0;
  size_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace sluice::engine
