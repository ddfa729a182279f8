#pragma once
// The engine's two clocks, behind one seam: steady time for deadlines and timers, wall-clock
// epoch milliseconds for what is written down (retry due times, DLQ failed_at). Tests drive
// the engine with a manual clock, so nothing needs to sleep.
//
// Threading: read from the engine thread; an implementation must be safe to read from any.

#include <chrono>
#include <cstdint>

namespace sluice::engine {

class EngineClock {
 public:
  using Steady = std::chrono::steady_clock;
  virtual ~EngineClock() = default;
  virtual Steady::time_point now() const = 0;
  virtual int64_t epoch_ms() const = 0;
  std::chrono::system_clock::time_point wall() const {
    return std::chrono::system_clock::time_point(std::chrono::milliseconds(epoch_ms()));
  }
};

class SystemClock final : public EngineClock {
 public:
  Steady::time_point now() const override { return Steady::now(); }
  int64_t epoch_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

}  // namespace sluice::engine
