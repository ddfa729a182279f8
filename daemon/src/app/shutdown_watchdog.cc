#include "app/shutdown_watchdog.h"

#include <unistd.h>

#include <optional>

#include "common/log.h"
#include "common/text.h"

namespace sluice::app {
namespace {

// How often a stop request is looked for (a signal handler cannot notify a condition variable).
constexpr std::chrono::milliseconds kCheckInterval{100};

}  // namespace

ShutdownWatchdog::ShutdownWatchdog(std::chrono::milliseconds drain, std::chrono::milliseconds margin,
                                   std::chrono::milliseconds teardown)
    : drain_(drain), margin_(margin), teardown_(teardown), thread_([this] { watch(); }) {}

ShutdownWatchdog::~ShutdownWatchdog() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    done_ = true;
  }
  changed_.notify_one();
  thread_.join();
}

void ShutdownWatchdog::engine_returned(int exit_code) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    returned_ = true;
    exit_code_ = exit_code;
  }
  changed_.notify_one();
}

void ShutdownWatchdog::watch() {
  using Clock = std::chrono::steady_clock;
  std::optional<Clock::time_point> deadline;
  bool teardown_counted = false;
  std::unique_lock<std::mutex> lock(mutex_);
  while (!done_) {
    const auto now = Clock::now();
    if (!deadline && stop_requested_.load()) deadline = now + drain_ + margin_;
    if (returned_ && !teardown_counted) {
      teardown_counted = true;
      deadline = deadline ? std::min(*deadline, now + teardown_) : now + teardown_;
    }
    if (deadline && now >= *deadline) {
      log::error("stop did not finish in time; exiting",
                 {{"drain_timeout", text::format_duration(drain_)}, {"margin", text::format_duration(margin_)}});
      // Unfinished records were not committed: they are redelivered after the restart.
      _exit(returned_ ? exit_code_ : 1);
    }
    changed_.wait_until(lock, deadline ? std::min(*deadline, now + kCheckInterval) : now + kCheckInterval);
  }
}

}  // namespace sluice::app
