#pragma once
// The engine's timers, in due order (FIFO among equal due times): one re-drives a record
// (backoff, dedup recheck), releases a partition's held retry records, or wakes a destination
// whose breaker may let probes through.
//
// Threading: engine thread only.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <queue>
#include <vector>

#include "engine/in_flight_record.h"

namespace sluice::engine {

class TimerQueue {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  enum class Kind { Record, Partition, Destination };
  struct Timer {
    TimePoint due;
    uint64_t sequence = 0;
    Kind kind = Kind::Record;
    InFlightRecord* record = nullptr;
    std::shared_ptr<PartitionState> partition;
    int destination = -1;
    bool operator>(const Timer& other) const {
      return due != other.due ? due > other.due : sequence > other.sequence;
    }
  };

  void at(TimePoint due, InFlightRecord* record) { push({due, 0, Kind::Record, record, nullptr, -1}); }
  void at(TimePoint due, std::shared_ptr<PartitionState> partition) {
    push({due, 0, Kind::Partition, nullptr, std::move(partition), -1});
  }
  void at_destination(TimePoint due, int destination) { push({due, 0, Kind::Destination, nullptr, nullptr, destination}); }

  // Takes the earliest timer due at `now`, if any.
  bool pop_due(TimePoint now, Timer& out) {
    if (timers_.empty() || timers_.top().due > now) return false;
    out = timers_.top();
    timers_.pop();
    return true;
  }
  std::optional<TimePoint> next_due() const {
    if (timers_.empty()) return std::nullopt;
    return timers_.top().due;
  }
  size_t size() const { return timers_.size(); }

 private:
  void push(Timer timer) {
    timer.sequence = sequence_++;
    timers_.push(std::move(timer));
  }

  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;
  uint64_t sequence_ = 0;
};

}  // namespace sluice::engine
