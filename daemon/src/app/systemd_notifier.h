#pragma once
// sd_notify(3) for Type=notify units: READY=1 once serving, STATUS= lines, STOPPING=1 when
// draining begins, and WATCHDOG=1 every WATCHDOG_USEC/2 — sent from the engine loop itself,
// so a loop that stops making progress stops the pings and systemd restarts the daemon.
// Without NOTIFY_SOCKET (not under systemd) every call does nothing.
//
// Threading: engine thread (and the main thread before the engine starts).

#include <chrono>
#include <cstdint>
#include <string_view>

namespace sluice::app {

class SystemdNotifier {
 public:
  SystemdNotifier();

  void ready(std::string_view status);
  void status(std::string_view status);
  void stopping();
  // Sends WATCHDOG=1 when half the watchdog interval has passed since the last one.
  void watchdog_if_due();

  bool enabled() const { return enabled_; }
  std::chrono::microseconds watchdog_interval() const { return watchdog_interval_; }

 private:
  void send(std::string_view message);

  bool enabled_ = false;
  std::chrono::microseconds watchdog_interval_{0};
  std::chrono::steady_clock::time_point next_watchdog_{};
};

}  // namespace sluice::app
