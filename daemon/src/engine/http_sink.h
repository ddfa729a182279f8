#pragma once
// Forwards records to one HTTP endpoint (an HTTP route): the record value as the request
// body, with Content-Type: application/json, Idempotency-Key: <fingerprint> and
// X-Sluice-Source: topic/partition/offset, the route's configured headers, and the record's
// trace context, forwarded headers and key (http_forward_headers.h); or, for a batched route,
// a batch of records in one request (http_batch.h). Order and the breaker are its
// Destination's business: every record sent here goes out. A record header that cannot be
// sent is left out of the request, counted, and logged the first time per reason.
//
// Threading: send(), flush() and on_response() run on the engine thread. The HttpClient
// calls back on the HTTP runtime's thread; that callback only hands the response to the
// engine (`deliver`), which then calls on_response().

#include <array>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "engine/http_batch.h"
#include "engine/http_forward_headers.h"
#include "engine/sink.h"
#include "http/http_client.h"

namespace prometheus {
class Counter;
}  // namespace prometheus

namespace sluice::engine {

class HttpSink final : public Sink {
 public:
  // `deliver` is called on the HTTP runtime's thread with each response.
  static std::unique_ptr<HttpSink> create(http::HttpRuntime& runtime, const config::RouteConfig& route,
                                          std::function<void(http::Response)> deliver, std::string& error);
  ~HttpSink() override;

  // Where record headers left out of requests are counted (sluice_http_headers_dropped_total
  // of route `route`, one counter per HeaderDrop); without it they are only left out.
  void count_header_drops(int route, const std::array<prometheus::Counter*, kHeaderDropCount>& counters);

  // Sink
  const std::string& name() const override { return name_; }
  SendResult send(InFlightRecord& record) override;
  void send_batch(const Batch& batch) override;
  // Hands the requests send() made since the last call to the client, in one go.
  void flush() override;

  // What a response answers (engine thread): a record, or a batch (by id); neither for an
  // unknown token.
  struct Answered {
    InFlightRecord* record = nullptr;
    uint64_t batch = 0;
  };
  Answered on_response(const http::Response& response);
  // Stops the client: every request not answered yet (including those not flushed) comes back
  // as Cancelled.
  void shutdown();
  // The client's counters since it was created.
  http::ClientStats stats() const { return client_->stats(); }
  // Requests the endpoint may have at once (max_connections × pipeline_depth).
  int capacity() const { return capacity_; }

 private:
  HttpSink(std::string name, int capacity, const config::HttpRouteConfig& route)
      : name_(std::move(name)), capacity_(capacity), forward_headers_(route) {}
  // Counts what `drops_` holds and logs each reason the first time it occurs; `record` is the
  // record the request carries (nullptr for a batch).
  void report_drops(const InFlightRecord* record);

  const std::string name_;
  const int capacity_;
  BatchFormat batch_format_ = BatchFormat::Array;
  bool content_type_configured_ = false;  // the route's headers name a Content-Type
  HttpForwardHeaders forward_headers_;
  HeaderDrops drops_;  // of the request being made; kept for its buffers
  int route_ = -1;
  std::array<prometheus::Counter*, kHeaderDropCount> drop_counters_{};
  std::array<bool, kHeaderDropCount> drop_logged_{};
  std::unique_ptr<http::HttpClient> client_;
  std::unordered_map<uint64_t, Answered> in_flight_;  // request token → what it carries
  std::vector<http::Request> outbox_;                        // made, not yet handed to client_
  uint64_t next_token_ = 1;
};

}  // namespace sluice::engine
