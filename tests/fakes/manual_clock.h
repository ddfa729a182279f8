#pragma once
// The engine's clocks, moved by the test: nothing in a test that uses it waits for real time.

#include <atomic>
#include <chrono>
#include <cstdint>

#include "engine/clock.h"

namespace sluice::fakes {

class ManualClock final : public engine::EngineClock {
 public:
  // Starts at an arbitrary steady time and at 2026-12-01T00:00:00Z.
  ManualClock() = default;

  Steady::time_point now() const override { return Steady::time_point(std::chrono::milliseconds(steady_ms_.load())); }
  int64_t epoch_ms() const override { return epoch_ms_.load(); }
  void advance(std::chrono::milliseconds by) {
    steady_ms_ += by.count();
    epoch_ms_ += by.count();
  }

 private:
  std::atomic<int64_t> steady_ms_{1'000'000'000};
  std::atomic<int64_t> epoch_ms_{1'795'996'800'000};
};

}  // namespace sluice::fakes
