#include "app/systemd_notifier.h"

#include <systemd/sd-daemon.h>

#include <cstdlib>
#include <string>

#include "common/log.h"

namespace sluice::app {

SystemdNotifier::SystemdNotifier() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  enabled_ = socket != nullptr && *socket != '\0';
  uint64_t usec = 0;
  // > 0 only when systemd set WATCHDOG_USEC (and WATCHDOG_PID, if set, is ours).
  if (enabled_ && sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    watchdog_interval_ = std::chrono::microseconds(usec);
    log::info("systemd watchdog enabled", {{"interval_ms", static_cast<int64_t>(usec / 1000)}});
  }
}

void SystemdNotifier::send(std::string_view message) {
  if (!enabled_) return;
  std::string text(message);
  int result = sd_notify(0, text.c_str());
  if (result < 0) log::warn("sd_notify failed", {{"error", result}});
}

void SystemdNotifier::ready(std::string_view status_text) {
  send("READY=1\nSTATUS=" + std::string(status_text));
}

void SystemdNotifier::status(std::string_view status_text) { send("STATUS=" + std::string(status_text)); }

void SystemdNotifier::stopping() { send("STOPPING=1\nSTATUS=draining"); }

void SystemdNotifier::watchdog_if_due() {
  if (watchdog_interval_.count() == 0) return;
  auto now = std::chrono::steady_clock::now();
  if (now < next_watchdog_) return;
  next_watchdog_ = now + watchdog_interval_ / 2;
  send("WATCHDOG=1");
}

}  // namespace sluice::app
