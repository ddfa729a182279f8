#include "dedup/memory_dedup_store.h"

#include <utility>

#include "common/assert.h"

namespace sluice::dedup {

namespace {
// How many keys ahead of the one being looked up the tables' slots are prefetched: enough to
// cover a memory access with the work of the keys in between.
constexpr size_t kPrefetchAhead = 8;
}  // namespace

MemoryDedupStore::MemoryDedupStore(std::chrono::milliseconds window, int64_t max_entries, NowFn now)
    : window_ms_(window.count()), max_entries_(static_cast<size_t>(max_entries)), now_(std::move(now)) {
  SLUICE_ASSERT(window.count() > 0, "the config key table rejects a non-positive dedup window");
  SLUICE_ASSERT(max_entries > 0, "the config key table rejects a non-positive memory_max_entries");
}

void MemoryDedupStore::reserve(std::span<const Fingerprint> fingerprints, std::vector<ReserveStatus>& out) {
  out.resize(fingerprints.size());
  const int64_t now = now_();
  for (size_t i = 0; i < fingerprints.size(); ++i) {
    if (i + kPrefetchAhead < fingerprints.size()) prefetch(fingerprints[i + kPrefetchAhead]);
    const Fingerprint& fingerprint = fingerprints[i];
    const int64_t* expiry = expires_at_.find(fingerprint);
    if (expiry != nullptr && *expiry > now) {
      out[i] = ReserveStatus::Duplicate;
    } else if (reserved_.insert(fingerprint)) {
      out[i] = ReserveStatus::Reserved;
    } else {
      // Held by an earlier message, possibly earlier in this very batch.
      out[i] = ReserveStatus::Busy;
    }
  }
}

void MemoryDedupStore::confirm(std::span<const Fingerprint> fingerprints) {
  const int64_t now = now_();
  const int64_t expires_at = now + window_ms_;
  for (size_t i = 0; i < fingerprints.size(); ++i) {
    if (i + kPrefetchAhead < fingerprints.size()) prefetch(fingerprints[i + kPrefetchAhead]);
    const Fingerprint& fingerprint = fingerprints[i];
    reserved_.erase(fingerprint);
    if (int64_t* expiry = expires_at_.find(fingerprint)) {
      // Its record keeps its place; drop_front() moves it back when it reaches the front.
      *expiry = expires_at;
      continue;
    }
    while (expires_at_.size() >= max_entries_) {
      const bool live = order_.front().expires_at > now;
      if (drop_front() && live) ++evictions_;
    }
    expires_at_.try_emplace(fingerprint, expires_at);
    order_.push_back({fingerprint, expires_at});
  }
}

void MemoryDedupStore::prefetch(const Fingerprint& fingerprint) const {
  expires_at_.prefetch(fingerprint);
  reserved_.prefetch(fingerprint);
}

void MemoryDedupStore::release(std::span<const Fingerprint> fingerprints) {
  for (const Fingerprint& fingerprint : fingerprints) reserved_.erase(fingerprint);
}

void MemoryDedupStore::expire() {
  const int64_t now = now_();
  while (!order_.empty() && order_.front().expires_at <= now) drop_front();
}

bool MemoryDedupStore::drop_front() {
  const Record record = order_.front();
  order_.pop_front();
  const int64_t* expiry = expires_at_.find(record.fingerprint);
  SLUICE_ASSERT(expiry != nullptr, "every record in order_ has its entry");
  if (*expiry != record.expires_at) {
    order_.push_back({record.fingerprint, *expiry});
    return false;
  }
  expires_at_.erase(record.fingerprint);
  return true;
}

}  // namespace sluice::dedup
