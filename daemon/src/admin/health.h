#pragma once
// What the admin server reports about the daemon's health, written by the engine thread (via
// the daemon's LifecycleListener) and read by the admin server's thread: atomics, and one
// mutex for the text that says why.
//
// /livez (and /healthz) — 200 while the engine's event loop ran within the last 60 s. The
//   loop wakes at least every 200 ms, also while brokers, Redis or sinks are down, so a
//   remote outage never fails liveness; only a stuck loop does (restart the process).
// /readyz — 200 when every check below holds, else 503 (?verbose lists them):
//   started          the engine created its clients and subscribed
//   group joined     a first assignment (even an empty one) arrived
//   in group         the consumer is a member now: its partitions were not lost (session
//                    timeout, fencing, max.poll.interval.ms), it reported no "unknown member"
//                    error, and a rebalance that revoked every partition has not lasted longer
//                    than admin.ready_broker_timeout; 200 again once an assignment arrives
//   brokers reached  no Kafka client reported "all brokers down", or a broker answered since
//                    (a fetch, an assignment, a commit, a watermark query the engine sends
//                    while it waits), or that report is younger than admin.ready_broker_timeout
//   not draining     no shutdown under way
//   no stalled partition  no partition with records in flight and no progress for
//                    pipeline.stall_timeout (records waiting for a retry due time or an open
//                    breaker are not stalled)
//   dedup store      the dedup store does not report itself failing: SQLite's last flush
//                    did not fail, Redis is connected (set from DedupStore::healthy() on
//                    every loop turn)
//   event loop alive as /livez
// Every check is read on each request; nothing is cached by the admin thread.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace sluice::admin {

struct HealthState {
  std::atomic<int64_t> loop_heartbeat_ms{0};  // steady-clock ms of the last loop iteration
  std::atomic<bool> started{false};
  std::atomic<bool> joined{false};
  std::atomic<bool> in_group{false};
  std::atomic<bool> brokers_reached{true};
  std::atomic<bool> draining{false};
  std::atomic<int64_t> stalled_partitions{0};
  // The dedup store says it is failing (e.g. its flushes fail). To be set from the store's
  // health check; until then always false.
  std::atomic<bool> dedup_store_failing{false};

  static int64_t steady_now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  void beat() { loop_heartbeat_ms.store(steady_now_ms(), std::memory_order_relaxed); }

  // Engine thread: the group and broker verdicts, each with why not (empty when it holds).
  void set_connectivity(bool member, const std::string& group_why, bool reached, const std::string& broker_why);

  // The loop may legitimately block for a while (a synchronous commit, a transaction commit
  // bounded at 30 s), so liveness allows a generous gap.
  static constexpr int64_t kLivenessGapMs = 60'000;
  bool live() const { return steady_now_ms() - loop_heartbeat_ms.load(std::memory_order_relaxed) < kLivenessGapMs; }
  // Every /readyz check but liveness.
  bool ready() const {
    return started.load() && joined.load() && in_group.load() && brokers_reached.load() && !draining.load() &&
           stalled_partitions.load() == 0 && !dedup_store_failing.load();
  }
  // Each check as a line ("[+]check ok" or "[-]check failed (why)"), for ?verbose.
  std::string describe() const;

 private:
  mutable std::mutex detail_mutex_;
  std::string group_detail_;   // guarded by detail_mutex_
  std::string broker_detail_;  // guarded by detail_mutex_
};

}  // namespace sluice::admin
