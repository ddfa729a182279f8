// retry.ordering and its companions: the defaults, what loads, and the errors (file:line:col:
// key: why) for what cannot keep a key's order.

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "config/loader.h"

namespace sluice::config {
namespace {

using Errors = std::vector<std::string>;

LoadResult load(const std::string& yaml) {
  return load_string(yaml, "t.yaml", [](std::string_view) { return std::optional<std::string>(); });
}

const std::string kRoutes =
    "routes:\n"
    "  - match: {channel: email}\n"
    "    topic: clean.email\n"
    "  - match: {channel: whatsapp}\n"
    "    http: {url: \"http://127.0.0.1:8080/in\"}\n";

TEST_CASE("retry.ordering is none by default; key loads with its bound and dead-letter setting", "[config][retry]") {
  LoadResult result = load(kRoutes);
  REQUIRE(result.errors == Errors{});
  CHECK(result.config->retry.ordering == RetryOrdering::None);
  CHECK(result.config->retry.max_parked_keys == 10'000);
  CHECK(result.config->retry.after_dead_letter == ParkedAfterDeadLetter::Release);

  result = load(kRoutes + "retry:\n  ordering: key\n  max_parked_keys: 50\n  after_dead_letter: dead_letter\n");
  REQUIRE(result.errors == Errors{});
  CHECK(result.config->retry.ordering == RetryOrdering::Key);
  CHECK(result.config->retry.max_parked_keys == 50);
  CHECK(result.config->retry.after_dead_letter == ParkedAfterDeadLetter::DeadLetter);
}

TEST_CASE("retry.ordering key refuses what would reorder a key anyway", "[config][retry][errors]") {
  // A route that sends a key's records at once.
  Errors errors = load(
                      "routes:\n"
                      "  - match: {channel: email}\n"
                      "    http: {url: \"http://127.0.0.1:8080/in\"}\n"
                      "    ordering: none\n"
                      "retry:\n"
                      "  ordering: key\n")
                      .errors;
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].find("t.yaml:4:") == 0);
  CHECK(errors[0].find("routes[0].ordering: retry.ordering is key, but ordering none") != std::string::npos);

  // An assignment that would put an input partition and its tier partitions on two instances.
  errors = load(kRoutes +
                "kafka:\n"
                "  consumer_properties: {partition.assignment.strategy: cooperative-sticky}\n"
                "retry:\n"
                "  ordering: key\n")
               .errors;
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].find("kafka.consumer_properties.partition.assignment.strategy: retry.ordering is key, which "
                       "needs range assignment") != std::string::npos);
  CHECK(load(kRoutes + "kafka:\n  consumer_properties: {partition.assignment.strategy: range}\nretry:\n  ordering: key\n")
            .errors == Errors{});

  CHECK(load(kRoutes + "retry:\n  ordering: fifo\n").errors.size() == 1);
  CHECK(load(kRoutes + "retry:\n  max_parked_keys: 0\n").errors.size() == 1);
  CHECK(load(kRoutes + "retry:\n  after_dead_letter: drop\n").errors.size() == 1);
}

}  // namespace
}  // namespace sluice::config
