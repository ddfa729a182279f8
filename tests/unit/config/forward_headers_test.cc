// routes[].http.forward_headers: record headers an HTTP route sends as request headers. Each
// entry is checked at load; a bad one is reported at its file position.

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "config/loader.h"
#include "config/validate.h"

namespace sluice::config {
namespace {

using Errors = std::vector<std::string>;

const EnvLookup kNoEnv = [](std::string_view) -> std::optional<std::string> { return std::nullopt; };

std::string route_with(const std::string& entries) {
  return "routes:\n"
         "  - match: {channel: email}\n"
         "    http:\n"
         "      url: http://127.0.0.1:8080/in\n"
         "      forward_headers:\n" +
         entries;
}

Errors errors_of(const std::string& yaml) { return load_string(yaml, "t.yaml", kNoEnv).errors; }

}  // namespace

TEST_CASE("forward_headers: names and prefixes are loaded as written, none by default", "[config][forward_headers]") {
  LoadResult loaded = load_string(route_with("        - x-tenant\n        - X-App-*\n        - \"*\"\n"), "t.yaml", kNoEnv);
  REQUIRE(loaded.errors.empty());
  REQUIRE(loaded.config->routes[0].http);
  CHECK(loaded.config->routes[0].http->forward_headers == std::vector<std::string>{"x-tenant", "X-App-*", "*"});

  LoadResult plain = load_string("routes:\n  - match: {channel: email}\n    http: {url: 'http://127.0.0.1:8080/in'}\n",
                                 "t.yaml", kNoEnv);
  REQUIRE(plain.errors.empty());
  CHECK(plain.config->routes[0].http->forward_headers.empty());
  // A topic route has no http settings at all (the default does not make it an HTTP route).
  LoadResult topic = load_string("routes:\n  - match: {channel: email}\n    topic: clean.email\n", "t.yaml", kNoEnv);
  REQUIRE(topic.errors.empty());
  CHECK_FALSE(topic.config->routes[0].http.has_value());
}

TEST_CASE("forward_headers: a bad entry is a config error at its position", "[config][forward_headers]") {
  CHECK(errors_of(route_with("        - x-tenant\n        - \"bad name\"\n")) ==
        Errors{"t.yaml:7:11: routes[0].http.forward_headers[1]: \"bad name\" is not a header name (letters, digits "
               "and !#$%&'*+-.^_`|~) or name prefix ending in *"});
  CHECK(errors_of(route_with("        - sluice-retry-count\n")) ==
        Errors{"t.yaml:6:11: routes[0].http.forward_headers[0]: \"sluice-retry-count\" names sluice-* headers, "
               "which are sluice's own and never sent to an endpoint"});
  CHECK(errors_of(route_with("        - Content-Length\n")) ==
        Errors{"t.yaml:6:11: routes[0].http.forward_headers[0]: \"Content-Length\" is a request header sluice sets "
               "itself (framing, Host, User-Agent, Content-Type, Idempotency-Key, X-Sluice-*)"});
}

TEST_CASE("forward_headers: what an entry may be", "[config][forward_headers]") {
  CHECK(forward_header_problem("traceparent").empty());
  CHECK(forward_header_problem("x-tenant-*").empty());
  CHECK(forward_header_problem("*").empty());
  CHECK(forward_header_problem("upstream-sluice-source").empty());  // data from another sluice, not ours
  CHECK(forward_header_problem("").find("must not be empty") == 0);
  CHECK(forward_header_problem("a*b").find("* may only end an entry") != std::string::npos);
  CHECK(forward_header_problem("**").find("* may only end an entry") != std::string::npos);
  CHECK(forward_header_problem("x:y").find("is not a header name") != std::string::npos);
  CHECK(forward_header_problem("caf\xc3\xa9").find("is not a header name") != std::string::npos);
  CHECK(forward_header_problem("sluice-*").find("sluice's own") != std::string::npos);
  CHECK(forward_header_problem("X-Sluice-Key").find("sets itself") != std::string::npos);
  CHECK(forward_header_problem("X-Sluice-*").find("sets itself") != std::string::npos);
  CHECK(forward_header_problem("x-*").empty());  // its x-sluice-* matches are left out when sent
  CHECK(forward_header_problem("idempotency-key").find("sets itself") != std::string::npos);
  CHECK(forward_header_problem("host").find("sets itself") != std::string::npos);
}

}  // namespace sluice::config
