#include "engine/http_sink.h"

#include <prometheus/counter.h>

#include "common/log.h"
#include "common/text.h"
#include "common/version.h"
#include "engine/record_headers.h"
#include "engine/trace_context.h"

namespace sluice::engine {
namespace {

constexpr size_t kUsualRequestHeaders = 7;

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
                                              static_cast<int>(settings.max_connections * settings.pipeline_depth),
                                              settings));
  sink->content_type_configured_ = content_type_configured;
  if (settings.batch) sink->batch_format_ = BatchSettings::from(*settings.batch).format;
  sink->client_ = http::HttpClient::create(runtime.io(), client, std::move(deliver), error);
  if (!sink->client_) return nullptr;
  return sink;
}

HttpSink::~HttpSink() {
  if (client_) client_->shutdown();
}

void HttpSink::count_header_drops(int route, const std::array<prometheus::Counter*, kHeaderDropCount>& counters) {
  route_ = route;
  drop_counters_ = counters;
}

void HttpSink::report_drops(const InFlightRecord* record) {
  for (size_t i = 0; i < kHeaderDropCount; ++i) {
    if (drops_.count[i] == 0) continue;
    if (drop_counters_[i] != nullptr) drop_counters_[i]->Increment(static_cast<double>(drops_.count[i]));
    if (drop_logged_[i]) continue;
    drop_logged_[i] = true;
    const std::string_view reason = header_drop_name(static_cast<HeaderDrop>(i));
    constexpr std::string_view kMessage =
        "record header not sent to the http endpoint; later ones are only counted (sluice_http_headers_dropped_total)";
    if (record != nullptr) {
      log_record(log::Level::Warn, kMessage, record->message,
                 {{"route", route_},
                  {"sink", name_},
                  {"header", drops_.first_name[i]},
                  {"reason", reason},
                  {"topic", record->partition->topic},
                  {"partition", record->partition->partition},
                  {"offset", record->offset}});
    } else {
      log::warn(kMessage, {{"route", route_}, {"sink", name_}, {"header", drops_.first_name[i]}, {"reason", reason}});
    }
  }
  drops_.clear();
}

SendResult HttpSink::send(InFlightRecord& record) {
  http::Request request;
  request.token = next_token_++;
  request.body.assign(record.value());
  // Room for sluice's two, the key (and its encoding) and a full trace context: one allocation
  // for the vector of a usual request.
  request.headers.reserve(kUsualRequestHeaders);
  request.headers.emplace_back("Idempotency-Key", record.fingerprint.hex());
  request.headers.emplace_back("X-Sluice-Source", std::string());
  append_source(request.headers.back().second, record);
  forward_headers_.append(record.message, request.headers, drops_);
  if (drops_.any()) report_drops(&record);
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
  std::vector<const kafka::Message*> messages;
  messages.reserve(batch.records.size());
  for (const InFlightRecord* record : batch.records) messages.push_back(&record->message);
  forward_headers_.append_common(messages, request.headers, drops_);
  if (drops_.any()) report_drops(nullptr);
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
