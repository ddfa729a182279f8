// routes[].http.concurrency, routes[].http.batch and routes[].rate_limit: what loads, the
// defaults, and the errors (file:line:col: key: why).

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "config/loader.h"
#include "config/validate.h"

namespace sluice::config {
namespace {

using Errors = std::vector<std::string>;

LoadResult load(const std::string& yaml) {
  return load_string(yaml, "t.yaml", [](std::string_view) { return std::optional<std::string>(); });
}

const std::string kHttpRoute =
    "routes:\n"
    "  - match: {channel: email}\n"
    "    http:\n"
    "      url: http://127.0.0.1:8080/in\n"
    "      max_connections: 4\n"
    "      pipeline_depth: 2\n";

TEST_CASE("http concurrency is adaptive by default, or a fixed count", "[config][flow]") {
  LoadResult result = load(kHttpRoute);
  REQUIRE(result.errors == Errors{});
  const HttpRouteConfig& http = *result.config->routes[0].http;
  CHECK(http.concurrency == "adaptive");
  CHECK_FALSE(fixed_concurrency(http).has_value());
  CHECK_FALSE(result.config->routes[0].rate_limit.has_value());

  result = load(kHttpRoute + "      concurrency: 8\n");
  REQUIRE(result.errors == Errors{});
  CHECK(fixed_concurrency(*result.config->routes[0].http) == 8);
}

TEST_CASE("http concurrency errors name the key and the allowed values", "[config][flow][errors]") {
  CHECK(load(kHttpRoute + "      concurrency: fast\n").errors ==
        Errors{"t.yaml:7:20: routes[0].http.concurrency: expected adaptive or a number of requests, found \"fast\""});
  CHECK(load(kHttpRoute + "      concurrency: 9\n").errors ==
        Errors{"t.yaml:7:20: routes[0].http.concurrency: 9 is out of range 1..8 (max_connections × "
               "pipeline_depth)"});
  CHECK(load(kHttpRoute + "      concurrency: 0\n").errors.size() == 1);
}

TEST_CASE("a rate limit loads on topic and http routes; burst defaults to the rate", "[config][flow]") {
  LoadResult result = load(
      "routes:\n"
      "  - match: {channel: email}\n"
      "    topic: clean.email\n"
      "    rate_limit: {records_per_second: 200}\n"
      "  - match: {channel: sms}\n"
      "    http: {url: \"http://127.0.0.1:8080/sms\"}\n"
      "    rate_limit: {records_per_second: 50, burst: 5}\n");
  REQUIRE(result.errors == Errors{});
  const std::vector<RouteConfig>& routes = result.config->routes;
  REQUIRE(routes[0].rate_limit.has_value());
  CHECK(routes[0].rate_limit->records_per_second == 200);
  CHECK(routes[0].rate_limit->burst == 0);  // records_per_second
  CHECK(routes[1].rate_limit->records_per_second == 50);
  CHECK(routes[1].rate_limit->burst == 5);
}

TEST_CASE("rate limit errors", "[config][flow][errors]") {
  const std::string route = "routes:\n  - match: {channel: email}\n    topic: clean.email\n";
  CHECK(load(route + "    rate_limit: {records_per_second: 0}\n").errors ==
        Errors{"t.yaml:4:38: routes[0].rate_limit.records_per_second: 0 is out of range 1..1000000"});
  CHECK(load(route + "    rate_limit: {burst: 10}\n").errors ==
        Errors{"t.yaml:4:17: routes[0].rate_limit.records_per_second: required key is missing"});
  CHECK(load(route + "    rate_limit: {records_per_second: 10, burst: 0}\n").errors.size() == 1);
}

TEST_CASE("routes sharing a destination must share its limits", "[config][flow][errors]") {
  CHECK(load("routes:\n"
             "  - match: {channel: email}\n"
             "    topic: clean.all\n"
             "    rate_limit: {records_per_second: 10}\n"
             "  - match: {channel: sms}\n"
             "    topic: clean.all\n")
            .errors == Errors{"t.yaml:5:5: routes[1]: delivers to the same destination as routes[0], which shares "
                              "its rate_limit and concurrency; give both the same ones"});
  CHECK(load("routes:\n"
             "  - match: {channel: email}\n"
             "    topic: clean.all\n"
             "  - match: {channel: sms}\n"
             "    topic: clean.all\n")
            .errors == Errors{});
}

TEST_CASE("an http route sends one record per request unless it has a batch", "[config][batch]") {
  LoadResult result = load(kHttpRoute);
  REQUIRE(result.errors == Errors{});
  CHECK_FALSE(result.config->routes[0].http->batch.has_value());
}

TEST_CASE("an empty batch takes every default; each key can be set", "[config][batch]") {
  LoadResult result = load(kHttpRoute + "      batch: {}\n");
  REQUIRE(result.errors == Errors{});
  REQUIRE(result.config->routes[0].http->batch.has_value());
  const HttpBatchConfig& defaults = *result.config->routes[0].http->batch;
  CHECK(defaults.max_records == 100);
  CHECK(defaults.max_bytes == 1'048'576);
  CHECK(defaults.linger == Duration(5));
  CHECK(defaults.format == "array");

  result = load(kHttpRoute + "      batch: {max_records: 500, max_bytes: 65536, linger: 20ms, format: ndjson}\n");
  REQUIRE(result.errors == Errors{});
  const HttpBatchConfig& set = *result.config->routes[0].http->batch;
  CHECK(set.max_records == 500);
  CHECK(set.max_bytes == 65536);
  CHECK(set.linger == Duration(20));
  CHECK(set.format == "ndjson");
}

TEST_CASE("batch errors name the line, the key and what is wrong", "[config][batch][errors]") {
  CHECK(load(kHttpRoute + "      batch: {max_records: 0}\n").errors ==
        Errors{"t.yaml:7:28: routes[0].http.batch.max_records: 0 is out of range 1..10000"});
  CHECK(load(kHttpRoute + "      batch: {max_records: 10001}\n").errors ==
        Errors{"t.yaml:7:28: routes[0].http.batch.max_records: 10001 is out of range 1..10000"});
  CHECK(load(kHttpRoute + "      batch:\n        max_bytes: 1023\n").errors ==
        Errors{"t.yaml:8:20: routes[0].http.batch.max_bytes: 1023 is out of range 1024..1073741824"});
  const Errors linger = load(kHttpRoute + "      batch: {linger: 11s}\n").errors;
  REQUIRE(linger.size() == 1);
  CHECK(linger[0].starts_with("t.yaml:7:23: routes[0].http.batch.linger: "));
  const Errors format = load(kHttpRoute + "      batch: {format: csv}\n").errors;
  REQUIRE(format.size() == 1);
  CHECK(format[0].starts_with("t.yaml:7:23: routes[0].http.batch.format: "));
  CHECK(format[0].find("array") != std::string::npos);
  CHECK(format[0].find("ndjson") != std::string::npos);
  CHECK(load(kHttpRoute + "      batch: {max_record: 5}\n").errors.size() == 1);
}

TEST_CASE("routes sharing an endpoint must share its batches", "[config][batch][errors]") {
  const std::string two =
      "routes:\n"
      "  - match: {channel: email}\n"
      "    http: {url: \"http://127.0.0.1:8080/in\", batch: {max_records: 10}}\n"
      "  - match: {channel: sms}\n"
      "    http: {url: \"http://127.0.0.1:8080/in\"}\n";
  CHECK(load(two).errors == Errors{"t.yaml:5:11: routes[1].http.batch: delivers to the same destination as "
                                   "routes[0], which shares its batches; give both the same http.batch"});
}

}  // namespace
}  // namespace sluice::config
