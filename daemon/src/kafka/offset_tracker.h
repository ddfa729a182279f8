#pragma once
// Per-partition commit watermark with out-of-order completion.
//
// Offsets are tracked in the order they are consumed (strictly increasing) and completed in
// any order once their record reaches a terminal outcome (forwarded and acknowledged,
// filtered, duplicate, retry-tier or DLQ record acknowledged). The committable position is one
// past the longest completed prefix: a completed record after a gap never moves it.
//
// Threading: engine thread only.

#include <cstdint>
#include <deque>
#include <optional>

namespace sluice::kafka {

class OffsetTracker {
 public:
  // `offset` must be greater than every offset tracked before; `at_ms` is when (any clock).
  void track(int64_t offset, int64_t at_ms = 0);
  // Marks a tracked, not yet completed offset as done. Returns false when the offset is not
  // tracked here (a broken invariant for the caller to assert on).
  bool complete(int64_t offset);
  // Starts loading the entry complete(offset) will look at, for a caller about to complete a
  // batch of offsets (the window of a busy partition is larger than the CPU cache).
  void prefetch(int64_t offset) const;

  // Whether `offset` was tracked already: at or below the newest offset tracked, or below the
  // completed prefix. The client fetching a partition again from an older offset (librdkafka
  // 2.0.2 can, after a pause and resume) delivers such copies; their originals are handled.
  bool already_seen(int64_t offset) const {
    if (!window_.empty()) return offset <= window_.back().offset;
    return next_position_ && offset < *next_position_;
  }

  // The next offset to commit (one past the completed prefix), or nullopt when nothing has
  // completed since the last mark_committed().
  std::optional<int64_t> committable() const;
  void mark_committed(int64_t offset) { committed_ = offset; }
  // A commit failed: offer the position again next time.
  void forget_committed() { committed_.reset(); }
  std::optional<int64_t> committed() const { return committed_; }
  // One past the completed prefix, whether committed or not (nullopt: nothing completed and
  // nothing committed yet).
  std::optional<int64_t> position() const { return next_position_ ? next_position_ : committed_; }
  // One past the newest offset tracked (consumed), else position().
  std::optional<int64_t> consumed_position() const { return window_.empty() ? position() : window_.back().offset + 1; }

  size_t pending() const { return window_.size(); }
  // Offset of the oldest record not yet complete, or nullopt.
  std::optional<int64_t> oldest_pending() const;
  // When the oldest record not yet complete was tracked (its `at_ms`), or nullopt.
  std::optional<int64_t> oldest_pending_since() const;

 private:
  struct Entry {
    int64_t offset;
    int64_t at_ms;
    bool done;
  };
  std::deque<Entry> window_;             // tracked and not yet in the completed prefix
  std::optional<int64_t> next_position_;  // one past the completed prefix
  std::optional<int64_t> committed_;
};

}  // namespace sluice::kafka
