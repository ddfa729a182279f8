#pragma once
// A dedup store held in process memory: for tests, single-instance deployments that accept
// forgetting the window on restart, and as the baseline the other backends are measured by.

#include <chrono>
#include <cstdint>
#include <deque>

#include "dedup/dedup_store.h"
#include "fingerprint/fingerprint_map.h"

namespace sluice::dedup {

// Remembers confirmed fingerprints until `window` has passed, at most `max_entries` of them.
// When full, the entries confirmed longest ago are evicted first and counted: a burst larger
// than the bound shortens the effective window instead of growing memory. Reservations live
// until confirm() or release(); nothing survives a restart, which at-least-once allows (a
// message forwarded just before the restart may be forwarded once more).
//
// Every entry has exactly one record in `order_`, in confirmation order. Since all entries
// share one window, that order is also expiry order, so expire() and eviction both work from
// the front.
//
// Threading: engine thread only; no locking.
class MemoryDedupStore final : public DedupStore {
 public:
  MemoryDedupStore(std::chrono::milliseconds window, int64_t max_entries, NowFn now = system_now_ms);

  // DedupStore
  std::string_view backend_name() const override { return "memory"; }
  void reserve(std::span<const Fingerprint> fingerprints, std::vector<ReserveStatus>& out) override;
  void confirm(std::span<const Fingerprint> fingerprints) override;
  void release(std::span<const Fingerprint> fingerprints) override;
  bool flush() override { return true; }
  void expire() override;

  // Confirmed entries held, including expired ones expire() has not removed yet.
  size_t size() const { return expires_at_.size(); }
  size_t reservations() const { return reserved_.size(); }
  // Unexpired entries dropped to stay within max_entries, since construction.
  int64_t evictions() const { return evictions_; }

 private:
  struct Record {
    Fingerprint fingerprint;
    int64_t expires_at;
  };

  // Removes the entry of the front record and returns true, unless the entry was confirmed
  // again after the record was written: then the record moves to the back with the new
  // expiry, and nothing is removed.
  bool drop_front();
  // Starts loading both tables' slots for `fingerprint` (see FingerprintMap::prefetch).
  void prefetch(const Fingerprint& fingerprint) const;

  const int64_t window_ms_;
  const size_t max_entries_;
  const NowFn now_;
  fingerprint::FingerprintMap<int64_t> expires_at_;
  std::deque<Record> order_;
  fingerprint::FingerprintSet reserved_;
  int64_t evictions_ = 0;
};

}  // namespace sluice::dedup
