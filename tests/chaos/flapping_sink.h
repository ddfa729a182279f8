#pragma once
// The HTTP endpoint of the chaos run: an HttpTestServer whose answers flap between periods
// of 200 OK, of 503, of hanging past the route's timeout (then a late 503 nobody reads), and
// of refusing connections (the server stopped). Only requests answered 2xx at once count as
// delivered; they are recorded with their body and Idempotency-Key.
//
// Threading: set_mode() and deliveries() are called from the main thread; the handler runs
// on the server's thread. On destruction the server (owned here) stops first.

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include "chaos/accounting.h"
#include "chaos/random.h"
#include "support/http_test_server.h"

namespace sluice::chaos {

enum class SinkMode { Ok, Unavailable, Hang, Refused };

const char* sink_mode_name(SinkMode mode);

class FlappingSink {
 public:
  // A hanging request is answered after `hang_delay`; make it longer than the route timeout.
  explicit FlappingSink(std::chrono::milliseconds hang_delay);

  std::string url() const { return server_.url(); }
  SinkMode mode() const { return mode_.load(); }
  // Refused stops the server (connections are refused); leaving Refused starts it again on
  // the same port.
  void set_mode(SinkMode mode);

  std::vector<HttpDelivery> deliveries() const;
  // When the server was stopped (each Refused period's start): a request answered just
  // before may never have had its answer read, and is sent again.
  std::vector<std::chrono::system_clock::time_point> stops() const;
  size_t requests_seen() const { return server_.request_count(); }

 private:
  test::HttpTestResponse answer(const test::ReceivedRequest& request);  // on the server thread

  std::chrono::milliseconds hang_delay_;
  std::atomic<SinkMode> mode_{SinkMode::Ok};
  mutable std::mutex mutex_;
  std::vector<HttpDelivery> deliveries_;  // guarded by mutex_
  std::vector<std::chrono::system_clock::time_point> stops_;  // guarded by mutex_
  test::HttpTestServer server_;           // last: stopped before what its handler uses
};

// The sink's schedule in a chaos run: good periods of 2–6 s between bad ones (503, hang or
// refused, equally likely) of 1–4 s. The first change comes 1–4 s after `now`.
class SinkFlapper {
 public:
  SinkFlapper(FlappingSink& sink, Random& random, std::chrono::steady_clock::time_point now);
  // Changes the mode once its time has come; returns the fault counted for a bad period it
  // began ("http 503 period"), otherwise "".
  std::string step(std::chrono::steady_clock::time_point now);

 private:
  FlappingSink& sink_;
  Random& random_;
  std::chrono::steady_clock::time_point next_change_;
};

}  // namespace sluice::chaos
