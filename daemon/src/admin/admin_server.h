#pragma once
// The admin HTTP server: read-only, for Prometheus and probes.
//
//   GET /metrics   Prometheus text exposition of every sluice metric
//   GET /livez     200 while the event loop runs (never fails because a remote is down)
//   GET /healthz   the same as /livez
//   GET /readyz    200 when started, joined, not draining and nothing stalled; else 503
//                  (append ?verbose for the individual checks)
// Anything else is 404; any method but GET and HEAD is 405.
//
// Threading: its own thread runs an io_context; handlers only read atomics and the metrics
// registry (thread-safe). Each connection has a deadline, so a slow client cannot hold it.
// Stop: stop() (or the destructor) closes the listener and joins the thread.

#include <cstdint>
#include <memory>
#include <string>

#include "admin/health.h"
#include "metrics/metrics.h"

namespace sluice::admin {

class AdminServer {
 public:
  // Binds `listen` ("host:port", port 0 picks a free one). On failure returns nullptr and
  // sets `error`.
  static std::unique_ptr<AdminServer> start(const std::string& listen, metrics::Metrics& metrics,
                                            const HealthState& health, std::string& error);
  ~AdminServer();

  uint16_t port() const;
  void stop();

 private:
  struct Impl;
  explicit AdminServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::admin
