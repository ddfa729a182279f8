// The retry-tier record and the rejected_topic copy: the original value, key and headers,
// with sluice's own headers set exactly once and stale ones gone.

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "common/outcome.h"
#include "engine/record_headers.h"
#include "engine/side_records.h"
#include "side_records_helpers.h"

using namespace sluice::engine;
using namespace sluice::engine::testing;
using namespace std::chrono_literals;

namespace {

// Topic names outlive the records built with them (OutboundRecord::topic is a view).
const std::string kTier10s = "retry.10s";
const std::string kTier30s = "retry.30s";
const std::string kRejected = "rejected";

std::string key_of(const sluice::kafka::OutboundRecord& out) {
  REQUIRE(out.key != nullptr);
  return std::string(static_cast<const char*>(out.key), out.key_size);
}

}  // namespace

TEST_CASE("retry record: value, key and headers kept, retry headers set", "[engine][side_records]") {
  SourceRecord source("id-42", R"({"channel":"email"})", {{"traceparent", "00-abc"}, {"app", "1"}});
  source.record.retry_count = 0;
  source.record.last_error = "Broker: Request timed out";
  const Origin origin{"inbound.email", 1, 1234};
  auto out = build_retry_record(source.record, kTier10s, 1'764'151'938'000, std::nullopt, origin);
  CHECK(out.topic == "retry.10s");
  CHECK(key_of(out) == "id-42");
  CHECK(out.value == R"({"channel":"email"})");
  CHECK_FALSE(out.null_value);
  CHECK(out.opaque == &source.record);
  const HeaderList expected = {{"traceparent", "00-abc"},
                               {"app", "1"},
                               {"sluice-retry-count", "1"},
                               {"sluice-retry-due", "1764151938000"},
                               {"sluice-tier-writes", "1"},
                               {"sluice-original-topic", "inbound.email"},
                               {"sluice-original-partition", "1"},
                               {"sluice-original-offset", "1234"},
                               {"sluice-error", "Broker: Request timed out"}};
  CHECK(read_headers(out.headers.get()) == expected);
}

TEST_CASE("retry record: a tier record's stale sluice headers are replaced, the first origin kept",
          "[engine][side_records]") {
  // Read back from retry.10s after its first failure, failing again: one of each retry header
  // with the new values, the origin passed in (the first one), no leftovers of the last
  // delivery attempt.
  SourceRecord source("id-42", "{}",
                      {{"sluice-retry-count", "1"},
                       {"sluice-retry-due", "1"},
                       {"sluice-original-topic", "inbound.email"},
                       {"sluice-original-partition", "1"},
                       {"sluice-original-offset", "1234"},
                       {"sluice-error", "old"},
                       {"sluice-error-stage", "forward"},
                       {"sluice-fingerprint", "ab"},
                       {"sluice-source", "retry.10s/0/5"},
                       {"sluice-retry-after", "120000"},
                       {"app", "1"}},
                      "retry.10s", 0, 5);
  source.record.retry_count = 1;
  source.record.last_error = "HTTP 503";
  auto out = build_retry_record(source.record, kTier30s, 2000, std::nullopt, Origin{"inbound.email", 1, 1234});
  const auto* headers = out.headers.get();
  CHECK(header_values(headers, "sluice-retry-count") == std::vector<std::string>{"2"});
  CHECK(header_values(headers, "sluice-retry-due") == std::vector<std::string>{"2000"});
  CHECK(header_values(headers, "sluice-original-topic") == std::vector<std::string>{"inbound.email"});
  CHECK(header_values(headers, "sluice-original-partition") == std::vector<std::string>{"1"});
  CHECK(header_values(headers, "sluice-original-offset") == std::vector<std::string>{"1234"});
  CHECK(header_values(headers, "sluice-error") == std::vector<std::string>{"HTTP 503"});
  CHECK(header_values(headers, "sluice-error-stage").empty());
  CHECK(header_values(headers, "sluice-fingerprint").empty());
  CHECK(header_values(headers, "sluice-source").empty());
  // The earlier hold was for the earlier tier; this one is the tier's own delay.
  CHECK(header_values(headers, "sluice-retry-after").empty());
  CHECK(header_values(headers, "app") == std::vector<std::string>{"1"});
}

TEST_CASE("retry record: sluice-retry-after is set only with a longer hold", "[engine][side_records]") {
  SourceRecord source("k", "{}", {{"sluice-retry-after", "5"}}, "retry.10s", 0, 5);
  auto with_hold = build_retry_record(source.record, kTier10s, 1, 120'000ms, Origin{"inbound.email", 0, 1});
  CHECK(header_values(with_hold.headers.get(), "sluice-retry-after") == std::vector<std::string>{"120000"});
  auto without = build_retry_record(source.record, kTier10s, 1, std::nullopt, Origin{"inbound.email", 0, 1});
  CHECK(header_values(without.headers.get(), "sluice-retry-after").empty());
}

TEST_CASE("retry record: a tombstone stays a tombstone and a missing key stays missing", "[engine][side_records]") {
  SourceRecord source(std::nullopt, std::nullopt, {});
  auto out = build_retry_record(source.record, kTier10s, 1, std::nullopt, Origin{"inbound.email", 1, 1234});
  CHECK(out.null_value);
  CHECK(out.key == nullptr);
  CHECK(out.key_size == 0);

  SourceRecord empty_key(std::string(), "{}", {});
  auto kept = build_retry_record(empty_key.record, kTier10s, 1, std::nullopt, Origin{"inbound.email", 1, 1234});
  CHECK(kept.key != nullptr);  // an empty key is not no key
  CHECK(kept.key_size == 0);
}

TEST_CASE("rejected record: the original with its filter reason and source", "[engine][side_records]") {
  SourceRecord source("id-9", R"({"body":"win a prize"})", {{"app", "1"}, {"sluice-filter-reason", "stale"}},
                      "inbound.email", 2, 77);
  source.record.reason = sluice::Reason::Spam;
  auto out = build_rejected_record(source.record, kRejected);
  CHECK(out.topic == "rejected");
  CHECK(key_of(out) == "id-9");
  CHECK(out.value == R"({"body":"win a prize"})");
  CHECK(out.opaque == &source.record);
  const HeaderList expected = {{"app", "1"}, {"sluice-filter-reason", "spam"}, {"sluice-source", "inbound.email/2/77"}};
  CHECK(read_headers(out.headers.get()) == expected);
}
