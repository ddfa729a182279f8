#include "kafka/offset_tracker.h"

#include <algorithm>
#include <cstddef>

#include "common/assert.h"

namespace sluice::kafka {

void OffsetTracker::track(int64_t offset, int64_t at_ms) {
  SLUICE_ASSERT(window_.empty() || offset > window_.back().offset, "offsets must be tracked in increasing order");
  SLUICE_ASSERT(!next_position_ || offset >= *next_position_, "offset below the completed prefix");
  window_.push_back({offset, at_ms, false});
}

bool OffsetTracker::complete(int64_t offset) {
  if (window_.empty() || offset < window_.front().offset) return false;
  // Offsets are usually consecutive (gaps come from compaction and transaction markers), so
  // the entry is usually at its distance from the front; otherwise search.
  auto it = window_.end();
  const auto distance = static_cast<uint64_t>(offset - window_.front().offset);
  if (distance < window_.size() && window_[distance].offset == offset) {
    it = window_.begin() + static_cast<std::ptrdiff_t>(distance);
  } else {
    it = std::lower_bound(window_.begin(), window_.end(), offset,
                          [](const Entry& entry, int64_t value) { return entry.offset < value; });
  }
  if (it == window_.end() || it->offset != offset || it->done) return false;
  it->done = true;
  while (!window_.empty() && window_.front().done) {
    next_position_ = window_.front().offset + 1;
    window_.pop_front();
  }
  return true;
}

void OffsetTracker::prefetch(int64_t offset) const {
  if (window_.empty() || offset < window_.front().offset) return;
  const auto distance = static_cast<uint64_t>(offset - window_.front().offset);
  if (distance < window_.size()) __builtin_prefetch(&window_[distance]);
}

std::optional<int64_t> OffsetTracker::committable() const {
  if (!next_position_ || (committed_ && *committed_ >= *next_position_)) return std::nullopt;
  return next_position_;
}

std::optional<int64_t> OffsetTracker::oldest_pending_since() const {
  for (const Entry& entry : window_) {
    if (!entry.done) return entry.at_ms;
  }
  return std::nullopt;
}

std::optional<int64_t> OffsetTracker::oldest_pending() const {
  if (window_.empty()) return std::nullopt;
  return window_.front().offset;
}

}  // namespace sluice::kafka
