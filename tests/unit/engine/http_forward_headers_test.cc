// The record headers and key an HTTP route sends as request headers, what it leaves out and
// why, and what a batch's request carries.

#include "engine/http_forward_headers.h"

#include <catch2/catch.hpp>

#include <librdkafka/rdkafka.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

using namespace sluice;
using namespace sluice::engine;

namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

const std::string kTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

kafka::Message record(Headers headers, std::optional<std::string> key = std::nullopt) {
  kafka::Message::Fields fields;
  fields.topic = "inbound.email";
  fields.key = std::move(key);
  fields.value = "{}";
  fields.headers = std::move(headers);
  return kafka::Message::build(std::move(fields));
}

config::HttpRouteConfig route(std::vector<std::string> forward = {}, config::StringMap configured = {}) {
  config::HttpRouteConfig http;
  http.url = "http://127.0.0.1:1/in";
  http.forward_headers = std::move(forward);
  http.headers = std::move(configured);
  return http;
}

struct Sent {
  http::HeaderList headers;
  HeaderDrops drops;
};

Sent send(const config::HttpRouteConfig& settings, const kafka::Message& message) {
  HttpForwardHeaders selector(settings);
  Sent sent;
  selector.append(message, sent.headers, sent.drops);
  return sent;
}

uint32_t dropped(const HeaderDrops& drops, HeaderDrop reason) { return drops.count[static_cast<size_t>(reason)]; }

}  // namespace

TEST_CASE("forward headers: the W3C trace context is sent by default, nothing else", "[engine][forward_headers]") {
  const Sent sent = send(route(), record({{"traceparent", kTraceparent},
                                          {"app", "billing"},
                                          {"tracestate", "congo=t61rcWkgMzE"},
                                          {"sluice-retry-count", "2"},
                                          {"baggage", "userId=alice,isProduction=false"}}));
  CHECK(sent.headers == http::HeaderList{{"traceparent", kTraceparent},
                                         {"tracestate", "congo=t61rcWkgMzE"},
                                         {"baggage", "userId=alice,isProduction=false"}});
  CHECK_FALSE(sent.drops.any());
}

TEST_CASE("forward headers: exact names and prefixes, matched case-sensitively", "[engine][forward_headers]") {
  const Sent sent = send(route({"x-tenant", "x-app-*"}), record({{"x-tenant", "acme"},
                                                                 {"X-Tenant", "other case, not listed"},
                                                                 {"x-app-region", "eu"},
                                                                 {"x-app-", "empty suffix"},
                                                                 {"x-ap", "shorter than the prefix"},
                                                                 {"x-tenants", "longer than the name"}}));
  CHECK(sent.headers == http::HeaderList{{"x-tenant", "acme"}, {"x-app-region", "eu"}, {"x-app-", "empty suffix"}});
  CHECK_FALSE(sent.drops.any());
}

TEST_CASE("forward headers: sluice-* headers are never sent, even by a catch-all", "[engine][forward_headers]") {
  const Sent sent = send(route({"*"}), record({{"sluice-fingerprint", "ab"}, {"upstream-sluice-source", "a/0/1"}}));
  CHECK(sent.headers == http::HeaderList{{"upstream-sluice-source", "a/0/1"}});
}

TEST_CASE("forward headers: of several headers of a name the last is sent, once", "[engine][forward_headers]") {
  const Sent sent = send(route({"x-tenant"}), record({{"traceparent", "first"},
                                                      {"x-tenant", "a"},
                                                      {"traceparent", kTraceparent},
                                                      {"x-tenant", "b"}}));
  CHECK(sent.headers == http::HeaderList{{"traceparent", kTraceparent}, {"x-tenant", "b"}});
  // Names that differ only in case are one HTTP field: the later one is sent.
  const Sent cased = send(route({"X-Tenant", "x-tenant"}), record({{"X-Tenant", "upper"}, {"x-tenant", "lower"}}));
  CHECK(cased.headers == http::HeaderList{{"x-tenant", "lower"}});
  // The last is the one: when it cannot be sent, an earlier one does not stand in for it.
  const Sent bad_last = send(route(), record({{"baggage", "ok=1"}, {"baggage", "bad\r\nX-Injected: 1"}}));
  CHECK(bad_last.headers.empty());
  CHECK(dropped(bad_last.drops, HeaderDrop::InvalidValue) == 1);
}

TEST_CASE("forward headers: a value that is not a valid field value is left out and counted",
          "[engine][forward_headers]") {
  const Sent sent = send(route({"x-*"}), record({{"x-cr", "a\rb"},
                                                 {"x-lf", "a\nb"},
                                                 {"x-nul", std::string("a\0b", 3)},
                                                 {"x-del", "a\x7f"},
                                                 {"x-esc", "a\x1b[31m"},
                                                 {"x-lead", " padded"},
                                                 {"x-trail", "padded\t"},
                                                 {"x-tab", "a\tb"},
                                                 {"x-utf8", "caf\xc3\xa9"},
                                                 {"x-empty", ""}}));
  CHECK(sent.headers == http::HeaderList{{"x-tab", "a\tb"}, {"x-utf8", "caf\xc3\xa9"}, {"x-empty", ""}});
  CHECK(dropped(sent.drops, HeaderDrop::InvalidValue) == 7);
  CHECK(sent.drops.first_name[static_cast<size_t>(HeaderDrop::InvalidValue)] == "x-cr");
  CHECK(dropped(sent.drops, HeaderDrop::InvalidName) == 0);
}

TEST_CASE("forward headers: a name that is not a token, or one the route sets itself, is left out",
          "[engine][forward_headers]") {
  const Sent sent = send(route({"x-*", "content-*", "auth*"}, {{"Authorization", "Bearer secret"}}),
                         record({{"x-bad name", "1"},
                                 {"x-colon:", "1"},
                                 {"x-sluice-source", "forged/0/0"},
                                 {"content-length", "5"},
                                 {"authorization", "Bearer forged"},
                                 {"x-ok", "1"}}));
  CHECK(sent.headers == http::HeaderList{{"x-ok", "1"}});
  CHECK(dropped(sent.drops, HeaderDrop::InvalidName) == 2);
  CHECK(dropped(sent.drops, HeaderDrop::OwnedName) == 3);
  CHECK(sent.drops.first_name[static_cast<size_t>(HeaderDrop::OwnedName)] == "x-sluice-source");
}

TEST_CASE("forward headers: a null header value is sent empty", "[engine][forward_headers]") {
  kafka::Message message = record({});
  kafka::HeadersPtr headers(rd_kafka_headers_new(1));
  rd_kafka_header_add(headers.get(), "baggage", -1, nullptr, 0);
  message.set_headers(std::move(headers));
  CHECK(send(route(), message).headers == http::HeaderList{{"baggage", ""}});
}

TEST_CASE("forward headers: the key is sent as it is when printable, else base64url", "[engine][forward_headers]") {
  CHECK(send(route(), record({}, "order-42")).headers == http::HeaderList{{"X-Sluice-Key", "order-42"}});
  CHECK(send(route(), record({}, "a b ~")).headers == http::HeaderList{{"X-Sluice-Key", "a b ~"}});
  CHECK(send(route(), record({}, "")).headers == http::HeaderList{{"X-Sluice-Key", ""}});
  CHECK(send(route(), record({})).headers.empty());  // no key: no header
  // Bytes outside 0x20-0x7E, or a space at either end (a receiver would strip it).
  CHECK(send(route(), record({}, std::string("\x00\xff\xfe", 3))).headers ==
        http::HeaderList{{"X-Sluice-Key", "AP_-"}, {"X-Sluice-Key-Encoding", "base64url"}});
  CHECK(send(route(), record({}, "line\n")).headers ==
        http::HeaderList{{"X-Sluice-Key", "bGluZQo"}, {"X-Sluice-Key-Encoding", "base64url"}});
  CHECK(send(route(), record({}, " k")).headers ==
        http::HeaderList{{"X-Sluice-Key", "IGs"}, {"X-Sluice-Key-Encoding", "base64url"}});
}

TEST_CASE("forward headers: a batch carries only what every record shares", "[engine][forward_headers]") {
  const std::string other_trace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  kafka::Message a = record({{"traceparent", kTraceparent}, {"baggage", "tenant=acme"}, {"x-tenant", "acme"}}, "k1");
  kafka::Message b = record({{"traceparent", other_trace}, {"baggage", "tenant=acme"}, {"x-tenant", "acme"}}, "k1");
  kafka::Message c = record({{"x-tenant", "acme"}, {"baggage", "tenant=acme"}, {"x-bad", "a\nb"}}, "k2");
  HttpForwardHeaders selector(route({"x-tenant", "x-bad"}));

  http::HeaderList shared;
  HeaderDrops drops;
  selector.append_common({&a, &b}, shared, drops);
  // Different traceparents: none is the batch's. The same baggage, tenant and key: sent.
  CHECK(shared == http::HeaderList{{"baggage", "tenant=acme"}, {"x-tenant", "acme"}, {"X-Sluice-Key", "k1"}});

  shared.clear();
  selector.append_common({&a, &b, &c}, shared, drops);
  CHECK(shared == http::HeaderList{{"baggage", "tenant=acme"}, {"x-tenant", "acme"}});
  CHECK(dropped(drops, HeaderDrop::InvalidValue) == 1);  // c's, counted though the batch sends no x-bad

  shared.clear();
  selector.append_common({&a}, shared, drops);
  CHECK(shared == http::HeaderList{{"traceparent", kTraceparent},
                                   {"baggage", "tenant=acme"},
                                   {"x-tenant", "acme"},
                                   {"X-Sluice-Key", "k1"}});
}
