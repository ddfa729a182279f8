#pragma once
// The last guarantee that a stop ends: once a stop is requested, the process exits within
// shutdown.drain_timeout + a fixed margin whatever the engine or a client library is stuck
// on. The engine's own stop is bounded step by step; this catches what no step can bound
// (a client library's destruction waiting on a thread of its own).
//
// Threading: a thread of its own, started by the constructor; request() is safe from a
// signal handler (it only stores an atomic), the rest from the main thread. The destructor
// stops the thread.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace sluice::app {

class ShutdownWatchdog {
 public:
  // After a stop request: `drain` + `margin` to exit. After the engine returned: `teardown`.
  ShutdownWatchdog(std::chrono::milliseconds drain, std::chrono::milliseconds margin, std::chrono::milliseconds teardown);
  ~ShutdownWatchdog();
  ShutdownWatchdog(const ShutdownWatchdog&) = delete;
  ShutdownWatchdog& operator=(const ShutdownWatchdog&) = delete;

  // A stop was requested (signal handler).
  void request() { stop_requested_.store(true); }
  // The engine returned `exit_code`; what is left (destroying it, the admin server) must end
  // within the teardown allowance, else the process exits with that code.
  void engine_returned(int exit_code);

 private:
  void watch();

  const std::chrono::milliseconds drain_;
  const std::chrono::milliseconds margin_;
  const std::chrono::milliseconds teardown_;
  std::atomic<bool> stop_requested_{false};
  std::mutex mutex_;
  std::condition_variable changed_;
  bool returned_ = false;  // guarded by mutex_
  int exit_code_ = 1;      // guarded by mutex_
  bool done_ = false;      // guarded by mutex_
  std::thread thread_;     // last: starts once everything above is initialised
};

}  // namespace sluice::app
