// Record metadata over HTTP routes, end to end: the W3C trace context, forward_headers and the
// record key reach the project's HTTP test server as request headers; a header value that
// would break the request is left out and counted in /metrics; sluice's log lines about a
// traced record carry its trace id.

#include <catch2/catch.hpp>

#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "devtools/kafka_tools.h"
#include "devtools/message_mix.h"
#include "support/dev_broker.h"
#include "support/http_get.h"
#include "support/http_test_server.h"
#include "support/prometheus_text.h"
#include "support/sluice_daemon.h"
#include "support/wait.h"

using namespace sluice::test;
using namespace sluice::devtools;
using namespace std::chrono_literals;

namespace {

const std::vector<TopicSpec> kTopics = {
    {"inbound.email", 1}, {"inbound.whatsapp", 1}, {"clean.email", 1}, {"dlq", 1}, {"retry.1s", 1}};
const std::string kTraceId = "4bf92f3577b34da6a3ce929d0e0e4736";
const std::string kTraceparent = "00-" + kTraceId + "-00f067aa0ba902b7-01";

TestConfig http_config(const DevBroker& broker, const std::string& group, const std::string& url) {
  TestConfig config;
  config.bootstrap = broker.bootstrap();
  config.group_id = group;
  config.routes_yaml = "  - match: {channel: email}\n    topic: clean.email\n"
                       "  - match: {channel: whatsapp}\n"
                       "    http:\n"
                       "      url: " + url + "\n"
                       "      timeout: 2s\n"
                       "      forward_headers: [x-tenant, \"x-app-*\"]\n";
  config.extra_yaml = "retry:\n  tiers: [1s]\n";
  return config;
}

KafkaRecord whatsapp(const std::string& text, std::optional<std::string> key,
                     std::vector<std::pair<std::string, std::string>> headers) {
  KafkaRecord record;
  record.topic = "inbound.whatsapp";
  record.key = std::move(key);
  record.value = whatsapp_event("+15553001000", text, "c-" + text);
  record.headers = std::move(headers);
  return record;
}

void produce(const std::string& bootstrap, const std::vector<KafkaRecord>& records) {
  RecordProducer producer(bootstrap);
  for (const KafkaRecord& record : records) producer.produce(record);
  producer.flush();
}

const ReceivedRequest* request_with(const std::vector<ReceivedRequest>& requests, const std::string& text) {
  for (const ReceivedRequest& request : requests) {
    if (request.body.find(text) != std::string::npos) return &request;
  }
  return nullptr;
}

// The daemon's log lines (JSON, one a line) with `msg` that contain `fragment`.
std::vector<std::string> log_lines(const std::string& logs, const std::string& msg, const std::string& fragment) {
  std::vector<std::string> found;
  std::istringstream lines(logs);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("\"msg\":\"" + msg) != std::string::npos && line.find(fragment) != std::string::npos) {
      found.push_back(line);
    }
  }
  return found;
}

}  // namespace

TEST_CASE("http headers: trace context, forwarded headers and the key reach the endpoint, a bad value is left out "
          "and counted",
          "[integration][http][headers]") {
  DevBroker broker(kTopics);
  HttpTestServer server;
  TempDir dir;
  SluiceDaemon daemon(http_config(broker, "http-headers", server.url()), dir);
  produce(broker.bootstrap(),
          {whatsapp("traced", "order-1",
                    {{"traceparent", kTraceparent},
                     {"tracestate", "congo=t61rcWkgMzE"},
                     {"baggage", "userId=alice"},
                     {"x-tenant", "acme"},
                     {"x-app-region", "eu-west"},
                     {"x-unlisted", "not forwarded"}}),
           whatsapp("broken", std::string("\x01\xff", 2),
                    {{"traceparent", kTraceparent},
                     {"x-tenant", "acme\r\nX-Injected: 1"},
                     {"x-app-nul", std::string("a\0b", 3)},
                     {"x-app-region", "eu-west"}}),
           whatsapp("keyless", std::nullopt, {})});
  daemon.start();
  const bool all = wait_until([&] { return server.request_count() >= 3; }, 30s, 20ms);
  INFO(daemon.logs());
  REQUIRE(all);

  const std::vector<ReceivedRequest> requests = server.requests();
  const ReceivedRequest* traced = request_with(requests, "traced");
  REQUIRE(traced != nullptr);
  CHECK(traced->headers.at("traceparent") == kTraceparent);
  CHECK(traced->headers.at("tracestate") == "congo=t61rcWkgMzE");
  CHECK(traced->headers.at("baggage") == "userId=alice");
  CHECK(traced->headers.at("x-tenant") == "acme");
  CHECK(traced->headers.at("x-app-region") == "eu-west");
  CHECK(traced->headers.count("x-unlisted") == 0);
  CHECK(traced->headers.at("x-sluice-key") == "order-1");
  CHECK(traced->headers.count("x-sluice-key-encoding") == 0);

  // The CR/LF and NUL values are left out; the rest of the record's request goes as usual.
  const ReceivedRequest* broken = request_with(requests, "broken");
  REQUIRE(broken != nullptr);
  CHECK(broken->headers.at("traceparent") == kTraceparent);
  CHECK(broken->headers.at("x-app-region") == "eu-west");
  CHECK(broken->headers.count("x-tenant") == 0);
  CHECK(broken->headers.count("x-injected") == 0);
  CHECK(broken->headers.count("x-app-nul") == 0);
  CHECK(broken->headers.at("x-sluice-key") == "Af8");  // base64url of 01 ff
  CHECK(broken->headers.at("x-sluice-key-encoding") == "base64url");

  const ReceivedRequest* keyless = request_with(requests, "keyless");
  REQUIRE(keyless != nullptr);
  CHECK(keyless->headers.count("x-sluice-key") == 0);
  CHECK(keyless->headers.count("traceparent") == 0);

  // Counted by route and reason, and logged once (with the record's trace id).
  const std::string metrics = http_get("127.0.0.1", daemon.admin_port(), "/metrics").body;
  CHECK(metric_value(metrics, "sluice_http_headers_dropped_total", {{"route", "1"}, {"reason", "invalid_value"}}) == 2);
  CHECK(metric_value(metrics, "sluice_http_headers_dropped_total", {{"route", "1"}, {"reason", "invalid_name"}}) == 0);
  CHECK(log_lines(daemon.logs(), "record header not sent", "\"trace_id\":\"" + kTraceId + "\"").size() == 1);
  REQUIRE(daemon.stop() == 0);
}

TEST_CASE("http headers: the log line of a dead-lettered traced record carries its trace id, and the DLQ record its "
          "trace context",
          "[integration][http][headers]") {
  DevBroker broker(kTopics);
  HttpTestServer server;
  server.set_handler([](const ReceivedRequest& request) {
    HttpTestResponse response;
    if (request.body.find("reject me") != std::string::npos) response.status = 400;
    return response;
  });
  TempDir dir;
  SluiceDaemon daemon(http_config(broker, "http-headers-dlq", server.url()), dir);
  produce(broker.bootstrap(), {whatsapp("reject me", "k", {{"traceparent", kTraceparent}, {"baggage", "userId=alice"}}),
                               whatsapp("untraced reject me", "k", {})});
  daemon.start();
  const bool dead_lettered = wait_until([&] { return read_topic(broker.bootstrap(), "dlq").size() == 2; }, 30s, 50ms);
  INFO(daemon.logs());
  REQUIRE(dead_lettered);
  REQUIRE(daemon.stop() == 0);

  // The traced record is dead-lettered first (one partition, in order), so its line is written
  // whatever the per-second limit of these lines does with the untraced one's.
  const std::vector<std::string> traced = log_lines(daemon.logs(), "record dead-lettered", "\"trace_id\":\"" + kTraceId + "\"");
  REQUIRE(traced.size() == 1);
  CHECK(traced[0].find("\"reason\":\"forward_rejected\"") != std::string::npos);
  CHECK(log_lines(daemon.logs(), "record dead-lettered", "\"trace_id\"").size() == 1);

  const std::vector<KafkaRecord> dlq = read_topic(broker.bootstrap(), "dlq");
  CHECK(dlq[0].header("traceparent") == kTraceparent);
  CHECK(dlq[0].header("baggage") == "userId=alice");
}
