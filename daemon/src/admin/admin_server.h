#pragma once
// The admin HTTP server: read-only, for Prometheus, probes and operators.
//
//   GET /metrics   Prometheus text exposition of every sluice metric
//   GET /livez     200 while the event loop runs (never fails because a remote is down)
//   GET /healthz   the same as /livez
//   GET /readyz    200 when every readiness check holds, else 503 (health.h says what each
//                  means; append ?verbose for the individual checks)
//   GET /status    the engine's last snapshot as JSON (status_board.h); 503 before the first
//   GET /config    the effective configuration as YAML, secrets redacted
// Anything else is 404; any method but GET and HEAD is 405.
//
// Limits (AdminLimits): at most max_connections at once. At the cap a new connection is
// still accepted: the connection idle longest (waiting for a request) is closed to make room,
// or, when none is idle, the new one is closed at once — so probes keep answering while
// someone holds connections open. A connection waiting for a request is closed after
// idle_timeout; a request must arrive whole (headers and body) within request_timeout of its
// first byte, and its answer must be taken within request_timeout too.
//
// Threading: its own thread runs an io_context (every handler on it, so the connection list
// needs no lock); handlers read atomics, the metrics registry and the status board (each
// thread-safe). Stop: stop() (or the destructor) closes the listener and every connection,
// and joins the thread.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "admin/health.h"
#include "admin/status_board.h"
#include "metrics/metrics.h"

namespace sluice::admin {

// What the server shows; each outlives the server.
struct AdminSources {
  metrics::Metrics* metrics = nullptr;
  const HealthState* health = nullptr;
  const StatusBoard* status = nullptr;  // nullptr: /status is 404
  std::string config_yaml;              // empty: /config is 404
};

struct AdminLimits {
  size_t max_connections = 64;
  std::chrono::milliseconds idle_timeout{10'000};
  std::chrono::milliseconds request_timeout{5'000};
};

class AdminServer {
 public:
  // Binds `listen` ("host:port", port 0 picks a free one). On failure returns nullptr and
  // sets `error`.
  static std::unique_ptr<AdminServer> start(const std::string& listen, AdminSources sources, std::string& error,
                                            AdminLimits limits = {});
  ~AdminServer();

  uint16_t port() const;
  void stop();

 private:
  struct Impl;
  explicit AdminServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::admin
