#pragma once
// The in-flight budget (pipeline.max_in_flight_records and max_in_flight_bytes): how many
// records the next batch may take, and when consumption must stop.
//
// Backpressure first only stops taking records from the consumer queue; librdkafka then stops
// fetching once its prefetch limit (queued.max.messages.kbytes) is reached. Pausing at once
// would be far costlier: a pause discards everything librdkafka prefetched for the partition
// (it bumps the partition's fetch version) and the resume fetches it all again, which at full
// speed happens every few hundred milliseconds. But a consumer that is not polled serves no
// rebalance and is dropped from the group after max.poll.interval.ms, so backpressure that
// lasts `pause_after` pauses every partition and polling resumes. Taking resumes below 80 % of
// both budgets, so it does not flap on every record.
//
// Threading: engine thread only. Pure: time and usage are passed in.

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace sluice::engine {

class Backpressure {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  Backpressure(int64_t max_records, int64_t max_bytes, std::chrono::milliseconds pause_after)
      : max_records_(max_records), max_bytes_(max_bytes), pause_after_(pause_after) {}

  // How many records the next batch may take (1..batch_size). The very first batch is one
  // record, to learn a size; then the byte budget is overshot by about one record rather than
  // one batch.
  size_t batch_room(int64_t records, int64_t bytes, size_t batch_size) const {
    int64_t left = max_records_ - records;
    left = recent_record_bytes_ > 0 ? std::min(left, (max_bytes_ - bytes) / recent_record_bytes_ + 1) : 1;
    return static_cast<size_t>(std::clamp<int64_t>(left, 1, static_cast<int64_t>(batch_size)));
  }
  // A batch of `count` records and `bytes` bytes was taken.
  void observe_batch(int64_t count, int64_t bytes) {
    if (count > 0) recent_record_bytes_ = std::max<int64_t>(1, bytes / count);
  }

  enum class Change { None, StopTaking, ResumeTaking, PauseAll, ResumeAll };
  // Re-evaluates after usage changed. ResumeAll implies taking again.
  Change update(int64_t records, int64_t bytes, TimePoint now) {
    if (!stopped_ && (records >= max_records_ || bytes >= max_bytes_)) {
      stopped_ = true;
      since_ = now;
      return Change::StopTaking;
    }
    if (stopped_ && records <= max_records_ * 8 / 10 && bytes <= max_bytes_ * 8 / 10) {
      stopped_ = false;
      stopped_before_ += now - since_;
      if (paused_) {
        paused_ = false;
        return Change::ResumeAll;
      }
      return Change::ResumeTaking;
    }
    if (stopped_ && !paused_ && now - since_ >= pause_after_) {
      paused_ = true;
      return Change::PauseAll;
    }
    return Change::None;
  }

  // No records are taken from the consumer queue.
  bool stopped() const { return stopped_; }
  // ... for so long that every partition is paused (and the consumer is polled again).
  bool paused() const { return paused_; }
  // How long taking was stopped in all, up to `now` (the stop going on counts so far), for
  // sluice_pipeline_intake_stopped_seconds_total. `now` is never earlier than update()'s.
  std::chrono::nanoseconds stopped_time(TimePoint now) const {
    return stopped_ ? stopped_before_ + (now - since_) : stopped_before_;
  }

 private:
  const int64_t max_records_;
  const int64_t max_bytes_;
  const std::chrono::milliseconds pause_after_;
  int64_t recent_record_bytes_ = 0;  // mean value size of the last batch taken
  bool stopped_ = false;
  bool paused_ = false;
  TimePoint since_{};  // when taking stopped
  std::chrono::nanoseconds stopped_before_{0};  // the stops that ended
};

}  // namespace sluice::engine
