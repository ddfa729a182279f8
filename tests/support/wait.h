#pragma once
// Awaiting a condition in tests: checks `condition` until it holds or `timeout` passes.
// This is the only waiting tests do; there are no fixed sleeps.

#include <chrono>
#include <functional>
#include <thread>

namespace sluice::test {

inline bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                       std::chrono::milliseconds interval = std::chrono::milliseconds(20)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(interval);
  }
}

}  // namespace sluice::test
