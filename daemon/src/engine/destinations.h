#pragma once
// Every destination of the instance, built once from the routes (routes to the same topic or
// endpoint share one), with what belongs to them together: each route's error table, the
// HTTP runtime and the inbox through which its thread hands responses to the engine, and
// their metrics.
//
// Threading: engine thread, except push_response() (HTTP runtime thread).

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"
#include "engine/destination.h"
#include "engine/error_classes.h"
#include "http/http_client.h"
#include "kafka/producer_api.h"
#include "metrics/metrics.h"

namespace sluice::engine {

class Destinations {
 public:
  // `wake` is called (from the HTTP runtime's thread) after a response was pushed. Errors
  // (an HTTP route that cannot be set up, an unknown error name) are appended to `errors`.
  static std::unique_ptr<Destinations> create(const config::Config& config, kafka::ProducerApi& producer,
                                              DestinationEvents& events, metrics::Metrics& metrics,
                                              std::function<void()> wake, std::vector<std::string>& errors);
  ~Destinations();

  Destination& for_route(int route) { return *destinations_[static_cast<size_t>(route_destination_[static_cast<size_t>(route)])]; }
  const RouteErrors& errors_of(int route) const { return route_errors_[static_cast<size_t>(route)]; }
  Destination& at(int index) { return *destinations_[static_cast<size_t>(index)]; }
  size_t size() const { return destinations_.size(); }
  template <typename Fn>
  void for_each(Fn&& fn) {
    for (auto& destination : destinations_) fn(*destination);
  }

  // Any thread: an HTTP response for destination `index`.
  void push_response(int index, http::Response response);
  // Engine thread: the responses pushed since the last call, in order.
  void take_responses(std::vector<std::pair<int, http::Response>>& out);
  // Hands every HTTP request made this round to the HTTP thread (one hand-over per sink).
  void flush_requests();
  // Cancels every unanswered HTTP request (their responses come back as Cancelled), then
  // stops the HTTP thread.
  void shutdown_http();

  void observe_request(Destination& destination, double seconds);
  void record_transition(Destination& destination, BreakerState to);
  // A record of `route` waited for a token of its rate limit.
  void count_rate_limited(int route) { route_rate_waits_[static_cast<size_t>(route)]->Increment(); }
  // A batch request of `records` went to `destination` (parts of a split batch too).
  void count_batch(Destination& destination, size_t records);
  // A batch `destination` refused as bad data was split in halves.
  void count_batch_split(Destination& destination);
  void update_gauges();
  // Adds what the HTTP clients counted since the last call to their counters.
  void report_http_stats();

 private:
  Destinations() = default;

  struct Instruments {
    prometheus::Gauge* state = nullptr;
    prometheus::Gauge* waiting = nullptr;
    prometheus::Histogram* request_duration = nullptr;
    prometheus::Histogram* batch_records = nullptr;  // batched HTTP routes only
    prometheus::Counter* batches_split = nullptr;    // ... the same
    http::ClientStats http_reported;  // HTTP routes: the client's counters as last added
  };

  metrics::Metrics* metrics_ = nullptr;
  std::function<void()> wake_;
  // Declared before the destinations: the runtime's thread may push into the inbox until it is
  // stopped, and the HTTP sinks are shut down before the runtime goes.
  std::mutex inbox_mutex_;
  std::vector<std::pair<int, http::Response>> inbox_;
  std::unique_ptr<http::HttpRuntime> runtime_;
  std::vector<std::unique_ptr<Destination>> destinations_;
  std::vector<Instruments> instruments_;
  std::vector<int> route_destination_;
  std::vector<RouteErrors> route_errors_;
  // Per route: sluice_route_concurrency_limit (HTTP routes; nullptr for topic routes) and
  // sluice_route_rate_limited_waits_total.
  std::vector<prometheus::Gauge*> route_limit_;
  std::vector<prometheus::Counter*> route_rate_waits_;
};

}  // namespace sluice::engine
