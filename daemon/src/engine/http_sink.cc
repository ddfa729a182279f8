#include "engine/http_sink.h"

#include "common/text.h"
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
  bool content_type_configured = false;
  for (const auto& [header_name, value] : settings.headers) {
    client.headers.emplace_back(header_name, value);
    content_type_configured = content_type_configured || text::ascii_lower(header_name) == "content-type";
  }
  client.ca_file = settings.ca_file;
  client.verify = settings.verify;
  client.user_agent = std::string("sluice/") + SLUICE_VERSION;
  std::unique_ptr<HttpSink> sink(new HttpSink(display_name(settings.url),
                                              static_cast<int>(settings.max_connections * settings.pipeline_depth)));
  sink->content_type_configured_ = content_type_configured;
  if (settings.batch) sink->batch_format_ = BatchSettings::from(*settings.batch).format;
  sink->client_ = http::HttpClient::create(runtime.io(), client, std::move(deliver), error);
  if (!sink->client_) return nullptr;
  return sink;
}

HttpSink::~HttpSink() {
  if (client_) client_->shutdown();
}

SendResult HttpSink::send(InFlightRecord& record) {
  http::Request request;
  request.token = next_token_++;
  request.body.assign(record.value());
  request.headers = {
      {"Idempotency-Key", record.fingerprint.hex()},
      {"X-Sluice-Source", std::string()},
  };
  append_source(request.headers.back().second, record);
  in_flight_.emplace(request.token, Answered{&record, 0});
  outbox_.push_back(std::move(request));
  return {};
}

void HttpSink::send_batch(const Batch& batch) {
  http::Request request;
  request.token = next_token_++;
  request.body = batch_body(batch.records, batch_format_);
  request.headers = {
      {"Idempotency-Key", batch_idempotency_key(batch.records)},
      {"X-Sluice-Sources", batch_sources(batch.records)},
      {"X-Sluice-Fingerprints", batch_fingerprints(batch.records)},
  };
  if (!content_type_configured_) request.headers.emplace_back("Content-Type", batch_content_type(batch_format_));
  in_flight_.emplace(request.token, Answered{nullptr, batch.id});
  outbox_.push_back(std::move(request));
}

void HttpSink::flush() {
  if (!outbox_.empty()) client_->submit(outbox_);
}

HttpSink::Answered HttpSink::on_response(const http::Response& response) {
  auto it = in_flight_.find(response.token);
  if (it == in_flight_.end()) return {};
  Answered answered = it->second;
  in_flight_.erase(it);
  return answered;
}

void HttpSink::shutdown() {
  flush();  // so that every record sent comes back, as Cancelled if nothing else
  client_->shutdown();
}

}  // namespace sluice::engine
