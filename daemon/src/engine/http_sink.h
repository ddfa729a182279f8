#pragma once
// Forwards records to one HTTP endpoint (an HTTP route): the record value as the request
// body, with Content-Type: application/json, Idempotency-Key: <fingerprint> and
// X-Sluice-Source: topic/partition/offset, plus the route's configured headers; or, for a
// batched route, a batch of records in one request (http_batch.h). Order and the breaker
// are its Destination's business: every record sent here goes out.
//
// Threading: send(), flush() and on_response() run on the engine thread. The HttpClient
// calls back on the HTTP runtime's thread; that callback only hands the response to the
// engine (`deliver`), which then calls on_response().

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "engine/http_batch.h"
#include "engine/sink.h"
#include "http/http_client.h"

namespace sluice::engine {

class HttpSink final : public Sink {
 public:
  // `deliver` is called on the HTTP runtime's thread with each response.
  static std::unique_ptr<HttpSink> create(http::HttpRuntime& runtime, const config::RouteConfig& route,
                                          std::function<void(http::Response)> deliver, std::string& error);
  ~HttpSink() override;

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
  HttpSink(std::string name, int capacity) : name_(std::move(name)), capacity_(capacity) {}

  const std::string name_;
  const int capacity_;
  BatchFormat batch_format_ = BatchFormat::Array;
  bool content_type_configured_ = false;  // the route's headers name a Content-Type
  std::unique_ptr<http::HttpClient> client_;
  std::unordered_map<uint64_t, Answered> in_flight_;  // request token → what it carries
  std::vector<http::Request> outbox_;                        // made, not yet handed to client_
  uint64_t next_token_ = 1;
};

}  // namespace sluice::engine
