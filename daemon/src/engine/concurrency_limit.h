#pragma once
// How many records one HTTP destination may have in flight: a fixed cap, or an adaptive limit
// that probes for what the endpoint can take (additive increase, multiplicative decrease).
//
//   adaptive  starts at `max` (so start-up behaves as without a limit: an endpoint that
//             holds requests long still gets all of them), drops to 1 whenever the breaker
//             closes after an outage, and grows by 1 per success while below `threshold`
//             (slow start: the limit doubles every round trip), then by 1 per `limit`
//             successes (one per round trip). A
//             response that says "too much" (HTTP 429 or 503, a timeout) halves it (at least 1)
//             and sets `threshold` to the halved value; only requests sent after the last cut
//             can cut it again, so one overloaded round trip halves it once, not once per
//             request that was in flight.
//   fixed     always `cap`.
// Never above `max` (max_connections × pipeline_depth).
//
// Threading: engine thread only. Time is passed in.

#include <chrono>

namespace sluice::engine {

class ConcurrencyLimit {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  // Adaptive, between 1 and `max`; starts at `max`.
  static ConcurrencyLimit adaptive(int max);
  // Always min(`cap`, `max`).
  static ConcurrencyLimit fixed(int cap, int max);

  int limit() const { return limit_; }
  bool is_adaptive() const { return adaptive_; }

  // A request answered by the endpoint (delivered, or refused for its data).
  void on_success();
  // A request sent at `sent_at` failed in a way that says the endpoint is overloaded.
  void on_overload(TimePoint sent_at, TimePoint now);
  // The breaker closed after an outage: start again from 1, in slow start.
  void restart();

 private:
  ConcurrencyLimit(bool adaptive, int limit, int max) : adaptive_(adaptive), max_(max), limit_(limit), threshold_(max) {}

  bool adaptive_;
  int max_;
  int limit_;
  int threshold_;        // slow start below it, one per round trip from it
  int successes_ = 0;    // since the limit last grew (above the threshold)
  TimePoint last_cut_{};  // requests sent before it cannot cut the limit again
};

}  // namespace sluice::engine
