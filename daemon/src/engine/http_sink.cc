#include "engine/http_sink.h"

#include <iterator>

#include "common/log.h"
#include "common/version.h"
#include "engine/record_headers.h"

namespace sluice::engine {
namespace {

// The URL without its query (which may carry credentials), for metric labels and logs.
std::string display_name(const std::string& url) {
  return "http:" + url.substr(0, url.find('?'));
}

}  // namespace

std::unique_ptr<HttpSink> HttpSink::create(http::HttpRuntime& runtime, const config::RouteConfig& route,
                                           std::function<void(http::Response)> deliver, std::string& error) {
  const config::HttpRouteConfig& settings = *route.http;
  http::ClientSettings client;
  client.url = settings.url;
  client.method = settings.method;
  client.timeout = settings.timeout;
  client.max_connections = static_cast<int>(settings.max_connections);
  client.pipeline_depth = static_cast<int>(settings.pipeline_depth);
  for (const auto& [header_name, value] : settings.headers) client.headers.emplace_back(header_name, value);
  client.ca_file = settings.ca_file;
  client.verify = settings.verify;
  client.user_agent = std::string("sluice/") + SLUICE_VERSION;
  std::unique_ptr<HttpSink> sink(new HttpSink(route.ordering, display_name(settings.url)));
  sink->client_ = http::HttpClient::create(runtime.io(), client, std::move(deliver), error);
  if (!sink->client_) return nullptr;
  return sink;
}

HttpSink::~HttpSink() {
  if (client_) client_->shutdown();
}

HttpSink::GateKey HttpSink::gate_key(const InFlightRecord& record) const {
  if (ordering_ == config::Ordering::Key) return {record.partition.get(), std::string(record.key())};
  return {record.partition.get(), std::string()};
}

SendResult HttpSink::send(InFlightRecord& record) {
  if (ordering_ == config::Ordering::None) {
    submit(record);
    return {};
  }
  Gate& gate = gates_[gate_key(record)];
  if (gate.busy) {
    gate.held.push_back(&record);
  } else {
    gate.busy = true;
    submit(record);
  }
  return {};
}

void HttpSink::submit(InFlightRecord& record) {
  http::Request request;
  request.token = next_token_++;
  request.body.assign(record.value());
  request.headers = {
      {"Idempotency-Key", record.fingerprint.hex()},
      {"X-Sluice-Source", std::string()},
  };
  append_source(request.headers.back().second, record);
  in_flight_.emplace(request.token, &record);
  outbox_.push_back(std::move(request));
}

void HttpSink::flush() {
  if (!outbox_.empty()) client_->submit(outbox_);
}

InFlightRecord* HttpSink::on_response(const http::Response& response) {
  auto it = in_flight_.find(response.token);
  if (it == in_flight_.end()) return nullptr;
  InFlightRecord* record = it->second;
  in_flight_.erase(it);
  if (ordering_ != config::Ordering::None) {
    auto gate = gates_.find(gate_key(*record));
    if (gate != gates_.end()) {
      if (gate->second.held.empty()) {
        // A partition's gate stays for its next record (building one allocates); a key's
        // goes, or there would be one per key ever seen, and so does a revoked partition's.
        if (ordering_ == config::Ordering::Key || record->partition->revoked) {
          gates_.erase(gate);
        } else {
          gate->second.busy = false;
        }
      } else {
        InFlightRecord* next = gate->second.held.front();
        gate->second.held.pop_front();
        submit(*next);
      }
    }
  }
  return record;
}

std::vector<InFlightRecord*> HttpSink::withdraw(const PartitionState& partition) {
  std::vector<InFlightRecord*> withdrawn;
  for (auto it = gates_.begin(); it != gates_.end();) {
    Gate& gate = it->second;
    if (it->first.first != &partition) {
      ++it;
      continue;
    }
    withdrawn.insert(withdrawn.end(), gate.held.begin(), gate.held.end());
    gate.held.clear();
    // An idle gate goes now; a busy one when its response comes (on_response).
    it = gate.busy ? std::next(it) : gates_.erase(it);
  }
  return withdrawn;
}

void HttpSink::shutdown() {
  flush();  // so that every record sent comes back, as Cancelled if nothing else
  client_->shutdown();
}

}  // namespace sluice::engine
