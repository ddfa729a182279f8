#pragma once
// The steps of a record between consumption and its final outcome, and the ledger that says
// what sluice waits on: how many records are in each step now, how many have left each, and
// the record-seconds they spent in it (the mean time in a step is the ratio of the last two
// over an interval; the mean number of records in it, by Little's law, the seconds per second).
//
// A record moves only through InFlightRecord::set_step(), and the pool's release takes it out
// of its step, so the counts cannot drift. Times come from the engine's cached clock (read at
// each loop round, each consumed batch and each hand-over of answers), not from a clock read
// per move: a move costs a few additions. What left a step accumulates as integers until the
// engine takes it (about every 100 ms) to publish as metrics (EngineProbe::publish_steps).
//
// Threading: engine thread only. The stage thread holds records in Staging but never moves them.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sluice::engine {

enum class Step {
  Staging,         // with the stage runner (on the stage thread, if there is one)
  Held,            // from a retry tier, not yet due: held (its partition paused) until due
  Dedup,           // waiting for a dedup answer (batched)
  WaitingOnPeer,   // a record with the same fingerprint is in flight; wait for its outcome
  Queued,          // in its destination's queue: waiting for its turn (ordering) or the breaker
  Forwarding,      // dispatched to the route's sink; the result comes later
  Retrying,        // the record for the next retry tier is being produced
  DeadLettering,   // the DLQ record is being produced
  Rejecting,       // the rejected_topic record is being produced
};
inline constexpr size_t kStepCount = static_cast<size_t>(Step::Rejecting) + 1;

// The metric label of a step ("waiting_on_peer").
std::string_view step_name(Step step);

class StepLedger {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  // What left one step since the last take_left().
  struct Left {
    int64_t records = 0;
    std::chrono::nanoseconds time{0};  // summed over those records
  };

  // `now` is the engine's cached clock, read at each move; it outlives the ledger.
  explicit StepLedger(const TimePoint& now) : now_(now) {}
  StepLedger(const StepLedger&) = delete;
  StepLedger& operator=(const StepLedger&) = delete;

  // A record enters `to`; `since` is stamped with the time.
  void enter(Step to, TimePoint& since) {
    current_[index(to)] += 1;
    since = now_;
  }
  // A record leaves `from`, entered at `since`.
  void leave(Step from, TimePoint since) {
    const size_t i = index(from);
    current_[i] -= 1;
    left_[i].records += 1;
    left_[i].time += now_ - since;
  }

  // Records in `step` now.
  int64_t in(Step step) const { return current_[index(step)]; }
  // What left each step since the last call (then zero again): small enough between two
  // calls that the nanoseconds cannot overflow, however long the daemon runs.
  std::array<Left, kStepCount> take_left() {
    std::array<Left, kStepCount> out = left_;
    left_ = {};
    return out;
  }

 private:
  static size_t index(Step step) { return static_cast<size_t>(step); }

  const TimePoint& now_;
  std::array<int64_t, kStepCount> current_{};
  std::array<Left, kStepCount> left_{};
};

}  // namespace sluice::engine
