#pragma once
// What the admin server reports about the daemon, written by the engine thread and read by
// the admin server's thread (all atomics, no locks).
//
//   live  — the engine's event loop ran recently (it wakes at least every 200 ms, also while
//           brokers, Redis or sinks are down, so a remote outage never fails liveness)
//   ready — started, the consumer has joined its group (an assignment arrived, even an empty
//           one), not draining, and no partition stalled

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace sluice::admin {

struct HealthState {
  std::atomic<int64_t> loop_heartbeat_ms{0};  // steady-clock ms of the last loop iteration
  std::atomic<bool> started{false};
  std::atomic<bool> joined{false};
  std::atomic<bool> draining{false};
  std::atomic<int64_t> stalled_partitions{0};

  static int64_t steady_now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  void beat() { loop_heartbeat_ms.store(steady_now_ms(), std::memory_order_relaxed); }

  // The loop may legitimately block for a while (a synchronous commit, a transaction commit
  // bounded at 30 s), so liveness allows a generous gap.
  static constexpr int64_t kLivenessGapMs = 60'000;
  bool live() const { return steady_now_ms() - loop_heartbeat_ms.load(std::memory_order_relaxed) < kLivenessGapMs; }
  bool ready() const { return started.load() && joined.load() && !draining.load() && stalled_partitions.load() == 0; }
  // Why not ready, for /readyz?verbose.
  std::string describe() const;
};

}  // namespace sluice::admin
