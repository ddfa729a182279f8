#pragma once
// Forwards records to one HTTP endpoint (an HTTP route): the record value as the request
// body, with Content-Type: application/json, Idempotency-Key: <fingerprint> and
// X-Sluice-Source: topic/partition/offset, plus the route's configured headers.
//
// Ordering is enforced here, before requests reach the connection pool:
//   partition — one request per input partition at a time (records of a partition arrive in
//               their order); key — one per (partition, key); none — no gate (the pool's
//               max_connections × pipeline_depth is the only limit).
// A record the gate holds back counts as accepted for the engine: its result simply comes
// later.
//
// Threading: send(), on_response() and withdraw() run on the engine thread. The HttpClient
// calls back on the HTTP runtime's thread; that callback only hands the response to the
// engine (`deliver`), which then calls on_response().

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "config/config.h"
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

  // The record a response belongs to (engine thread). Frees its ordering slot and sends the
  // next record the gate held back, if any.
  InFlightRecord* on_response(const http::Response& response);
  // Records of `partition` still held back by the ordering gate (not sent yet): taken out
  // and returned, e.g. because the partition was revoked.
  std::vector<InFlightRecord*> withdraw(const PartitionState& partition);
  // Hands the requests send() and on_response() made since the last call to the client, in
  // one go (engine thread; the engine calls it before it waits for anything).
  void flush();
  // Stops the client: every request not answered yet (including those not flushed) comes back
  // as Cancelled.
  void shutdown();
  // The client's counters since it was created.
  http::ClientStats stats() const { return client_->stats(); }

 private:
  using GateKey = std::pair<const PartitionState*, std::string>;
  struct Gate {
    bool busy = false;
    std::deque<InFlightRecord*> held;
  };

  HttpSink(config::Ordering ordering, std::string name) : ordering_(ordering), name_(std::move(name)) {}
  void submit(InFlightRecord& record);
  GateKey gate_key(const InFlightRecord& record) const;

  const config::Ordering ordering_;
  const std::string name_;
  std::unique_ptr<http::HttpClient> client_;
  std::map<GateKey, Gate> gates_;
  std::unordered_map<uint64_t, InFlightRecord*> in_flight_;  // request token → record
  std::vector<http::Request> outbox_;                        // made, not yet handed to client_
  uint64_t next_token_ = 1;
};

}  // namespace sluice::engine
