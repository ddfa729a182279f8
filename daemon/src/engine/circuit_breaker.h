#pragma once
// One circuit breaker per sink (destination). It sees every delivery result of its sink and
// decides whether new deliveries may start:
//
//   CLOSED    deliveries flow; `failure_threshold` consecutive failures — or, when enabled, a
//             failure rate of at least `failure_rate_threshold` over the last
//             `sliding_window_size` results (once `minimum_calls` were seen) — open it.
//   OPEN      no delivery starts for `open_timeout` (or longer, when the sink asked for a
//             Retry-After); then HALF_OPEN.
//   HALF_OPEN at most `half_open_max_calls` probes are in flight at once; `success_threshold`
//             successful probes close it, any failed probe opens it again.
//
// Results of deliveries that started under an earlier state (a permit's generation) do not
// move the current state, so a late success can never close an open breaker, and a burst of
// late failures can never re-open it twice.
//
// The engine pauses the partitions whose records wait for an open breaker, so an outage
// produces no retry or DLQ records.
//
// Threading: engine thread only. Time is passed in, so tests need no sleeping.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>

namespace sluice::engine {

struct BreakerSettings {
  int failure_threshold = 5;
  std::chrono::milliseconds open_timeout{60'000};
  int half_open_max_calls = 1;
  int success_threshold = 3;
  // Optional failure-rate rule; 0 disables it.
  double failure_rate_threshold = 0;  // percent, 1..100
  int sliding_window_size = 100;
  int minimum_calls = 20;
};

enum class BreakerState { Closed, Open, HalfOpen };

std::string_view breaker_state_name(BreakerState state);

class CircuitBreaker {
 public:
  using Clock = std::chrono::steady_clock;
  // Called on every state change (on the engine thread).
  using TransitionListener = std::function<void(BreakerState from, BreakerState to)>;

  struct Permit {
    bool granted = false;
    bool probe = false;      // a HALF_OPEN probe
    uint64_t generation = 0;
  };

  CircuitBreaker(BreakerSettings settings, TransitionListener on_transition);

  // Asks to start one delivery now. A denied permit means: wait (the sink is down).
  Permit try_acquire(Clock::time_point now);
  void on_success(const Permit& permit, Clock::time_point now);
  // `min_open` is a server's Retry-After: an opened breaker stays open at least that long.
  void on_failure(const Permit& permit, Clock::time_point now,
                  std::optional<std::chrono::milliseconds> min_open = std::nullopt);
  // A probe ended without a result (its record was given up): free its slot.
  void cancel(const Permit& permit);

  // The state at `now` (an expired OPEN becomes HALF_OPEN here).
  BreakerState state(Clock::time_point now);
  BreakerState current_state() const { return state_; }
  // When an OPEN breaker may let a probe through.
  Clock::time_point open_until() const { return open_until_; }
  // How many more probes may start now (HALF_OPEN), 0 otherwise.
  int probe_slots() const;

 private:
  void transition(BreakerState to, Clock::time_point now, std::optional<std::chrono::milliseconds> min_open = {});
  void record_result(bool success);

  BreakerSettings settings_;
  TransitionListener on_transition_;
  BreakerState state_ = BreakerState::Closed;
  uint64_t generation_ = 1;
  int consecutive_failures_ = 0;
  int probes_in_flight_ = 0;
  int probe_successes_ = 0;
  Clock::time_point open_until_{};
  std::deque<bool> window_;  // recent results in CLOSED, true = failure
  int window_failures_ = 0;
};

}  // namespace sluice::engine
