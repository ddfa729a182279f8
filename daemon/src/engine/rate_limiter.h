#pragma once
// A route's rate limit: a token bucket of `burst` tokens, refilled at `records_per_second`.
// A record is sent only with a token; without one the destination waits until next_token()
// (it asks the engine to wake it then) and, when its queue grows, pauses the partitions
// feeding it, so a slow limit never queues records without bound.
//
// Kept as the time the bucket would be full again minus its size (the "theoretical arrival
// time" form of a token bucket), in whole nanoseconds: no drift from adding up fractions of
// tokens, however long it runs.
//
// Threading: engine thread only. Time is passed in (the engine clock), so tests need no
// sleeping.

#include <chrono>

namespace sluice::engine {

class RateLimiter {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  // The bucket starts full. `burst` below 1 counts as 1.
  RateLimiter(double records_per_second, double burst);

  // Whether a token is there at `now`.
  bool ready(TimePoint now) const { return now >= next_token(); }
  // Takes one token at `now`; call only after ready() said yes.
  void take(TimePoint now);
  // When the next token is there (in the past when one is there already).
  TimePoint next_token() const { return due_ - tolerance_; }

  double burst() const { return burst_; }

 private:
  std::chrono::nanoseconds interval_;   // one token's worth of time
  std::chrono::nanoseconds tolerance_;  // (burst - 1) tokens' worth
  double burst_;
  TimePoint due_{};  // when the token after all those taken would be earned at the rate
};

}  // namespace sluice::engine
