// The retry tiers: which tier comes next, how long a record is held, and how far the
// sluice-retry-* and sluice-original-* headers of a record read back from a tier are trusted.

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/record_headers.h"
#include "engine/retry_tiers.h"

using namespace sluice::engine;
using namespace std::chrono_literals;
using std::chrono::milliseconds;

namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr int64_t kNow = 1'764'151'928'000;  // epoch ms when the record is read

sluice::config::RetryConfig three_tiers() {
  sluice::config::RetryConfig config;
  config.tiers = {10s, 30s, 60s};
  config.topic_prefix = "retry";
  return config;
}

// A record consumed from `topic`, which is retry tier `tier` (-1: an input topic).
struct Consumed {
  std::shared_ptr<PartitionState> partition;
  InFlightRecord record;

  Consumed(const std::string& topic, int tier, Headers headers, int32_t partition_id = 3, int64_t offset = 77) {
    partition = std::make_shared<PartitionState>(topic, partition_id);
    partition->retry_tier = tier;
    record.partition = partition;
    record.offset = offset;
    sluice::kafka::Message::Fields fields;
    fields.topic = topic;
    fields.partition = partition_id;
    fields.offset = offset;
    fields.value = "{}";
    fields.headers = std::move(headers);
    record.message = sluice::kafka::Message::build(std::move(fields));
  }
};

}  // namespace

TEST_CASE("retry tiers: one topic per delay, and the tier a topic is", "[engine][retry]") {
  RetryTiers tiers(three_tiers());
  CHECK(tiers.count() == 3);
  CHECK(tiers.topics() == std::vector<std::string>{"retry.10s", "retry.30s", "retry.60s"});
  CHECK(tiers.tier_of("retry.30s") == 1);
  CHECK(tiers.tier_of("inbound.email") == -1);
  CHECK(tiers.delay(2) == 60s);
}

TEST_CASE("retry tiers: the next tier after each failure, then exhaustion", "[engine][retry]") {
  RetryTiers tiers(three_tiers());
  CHECK(tiers.next_tier(0) == std::optional<size_t>(0));
  CHECK(tiers.next_tier(1) == std::optional<size_t>(1));
  CHECK(tiers.next_tier(2) == std::optional<size_t>(2));
  CHECK_FALSE(tiers.next_tier(3));  // every tier used: retries exhausted
  CHECK_FALSE(tiers.next_tier(1000));
  CHECK_FALSE(tiers.next_tier(-1));

  sluice::config::RetryConfig none;
  none.topic_prefix = "retry";
  CHECK_FALSE(RetryTiers(none).next_tier(0));  // tiers: [] — straight to the DLQ
}

TEST_CASE("retry tiers: a hold is the tier's delay, or a longer Retry-After up to the cap", "[engine][retry]") {
  RetryTiers tiers(three_tiers());
  CHECK(tiers.hold(0, std::nullopt) == 10s);
  CHECK(tiers.hold(0, milliseconds(2'000)) == 10s);  // shorter: the tier's delay wins
  CHECK(tiers.hold(0, milliseconds(120'000)) == 120s);
  CHECK(tiers.hold(1, RetryTiers::kMaxRetryAfter) == RetryTiers::kMaxRetryAfter);
  CHECK(tiers.hold(1, RetryTiers::kMaxRetryAfter + 1ms) == RetryTiers::kMaxRetryAfter);
  CHECK(tiers.hold(2, std::chrono::hours(24 * 365)) == RetryTiers::kMaxRetryAfter);
}

TEST_CASE("retry tiers: a forged far-future due time holds no longer than the tier's delay from the read",
          "[engine][retry]") {
  RetryTiers tiers(three_tiers());
  Consumed forged("retry.10s", 0, {{header::kRetryDue, std::to_string(kNow + 86'400'000LL * 365)}});
  tiers.read_retry_state(forged.record, 0, kNow);
  CHECK(forged.record.retry_due_ms == kNow + 10'000);

  Consumed later_tier("retry.60s", 2, {{header::kRetryDue, "9223372036854775807"}});
  tiers.read_retry_state(later_tier.record, 2, kNow);
  CHECK(later_tier.record.retry_due_ms == kNow + 60'000);
}

TEST_CASE("retry tiers: an honest due time within the bound is kept", "[engine][retry]") {
  RetryTiers tiers(three_tiers());
  Consumed honest("retry.30s", 1, {{header::kRetryDue, std::to_string(kNow + 12'345)}});
  tiers.read_retry_state(honest.record, 1, kNow);
  CHECK(honest.record.retry_due_ms == kNow + 12'345);

  Consumed past("retry.30s", 1, {{header::kRetryDue, std::to_string(kNow - 5'000)}});
  tiers.read_retry_state(past.record, 1, kNow);
  CHECK(past.record.retry_due_ms == kNow - 5'000);  // due already
}

TEST_CASE("retry tiers: a missing or malformed due time means due now", "[engine][retry]") {
  RetryTiers tiers(three_tiers());
  for (const Headers& headers : {Headers{}, Headers{{header::kRetryDue, "soon"}}, Headers{{header::kRetryDue, ""}}}) {
    Consumed record("retry.10s", 0, headers);
    tiers.read_retry_state(record.record, 0, kNow);
    CHECK(record.record.retry_due_ms <= kNow);
  }
}

TEST_CASE("retry tiers: the last due header counts", "[engine][retry]") {
  RetryTiers tiers(three_tiers());
  Consumed record("retry.10s", 0,
                  {{header::kRetryDue, std::to_string(kNow + 1'000)}, {header::kRetryDue, std::to_string(kNow + 2'000)}});
  tiers.read_retry_state(record.record, 0, kNow);
  CHECK(record.record.retry_due_ms == kNow + 2'000);
}

TEST_CASE("retry tiers: a sluice-retry-after claim extends the bound only up to kMaxRetryAfter", "[engine][retry]") {
  RetryTiers tiers(three_tiers());
  const std::string far = std::to_string(kNow + 86'400'000LL * 30);

  // A sink asked for two minutes: the record may be held that long, not longer.
  Consumed two_minutes("retry.10s", 0, {{header::kRetryDue, far}, {header::kRetryAfter, "120000"}});
  CHECK(tiers.hold_limit(two_minutes.record, 0) == 120s);
  tiers.read_retry_state(two_minutes.record, 0, kNow);
  CHECK(two_minutes.record.retry_due_ms == kNow + 120'000);

  // A forged claim of ten days is worth an hour.
  Consumed ten_days("retry.10s", 0, {{header::kRetryDue, far}, {header::kRetryAfter, "864000000"}});
  CHECK(tiers.hold_limit(ten_days.record, 0) == RetryTiers::kMaxRetryAfter);
  tiers.read_retry_state(ten_days.record, 0, kNow);
  CHECK(ten_days.record.retry_due_ms == kNow + RetryTiers::kMaxRetryAfter.count());

  // A claim shorter than the tier's delay, negative or malformed does not shorten the bound.
  for (const char* claim : {"5000", "-1", "x"}) {
    Consumed record("retry.30s", 1, {{header::kRetryDue, far}, {header::kRetryAfter, claim}});
    CHECK(tiers.hold_limit(record.record, 1) == 30s);
  }
}

TEST_CASE("retry tiers: the retry count header is clamped, and absent means the tier's own count",
          "[engine][retry]") {
  RetryTiers tiers(three_tiers());
  auto count_of = [&](Headers headers, int tier) {
    Consumed record("retry.10s", tier, std::move(headers));
    tiers.read_retry_state(record.record, tier, kNow);
    return record.record.retry_count;
  };
  CHECK(count_of({{header::kRetryCount, "2"}}, 1) == 2);
  CHECK(count_of({{header::kRetryCount, "0"}}, 0) == 1);
  CHECK(count_of({{header::kRetryCount, "-7"}}, 0) == 1);
  CHECK(count_of({{header::kRetryCount, "99999999999"}}, 0) == 1000);
  CHECK(count_of({{header::kRetryCount, "many"}}, 0) == 1);
  CHECK(count_of({}, 0) == 1);
  CHECK(count_of({}, 2) == 3);
}

TEST_CASE("retry tiers: origin headers are trusted on a tier's records", "[engine][retry]") {
  RetryTiers tiers(three_tiers());
  Consumed record("retry.30s", 1,
                  {{header::kOriginalTopic, "inbound.whatsapp"},
                   {header::kOriginalPartition, "5"},
                   {header::kOriginalOffset, "123456"}});
  Origin origin = tiers.origin_of(record.record);
  CHECK(origin.topic == "inbound.whatsapp");
  CHECK(origin.partition == 5);
  CHECK(origin.offset == 123456);
}

TEST_CASE("retry tiers: origin headers on an input topic's record are not trusted", "[engine][retry]") {
  // An inbound record's own sluice-* headers are renamed on intake; even if one got through,
  // only a tier record's origin headers are sluice's.
  RetryTiers tiers(three_tiers());
  Consumed record("inbound.email", -1,
                  {{header::kOriginalTopic, "inbound.whatsapp"},
                   {header::kOriginalPartition, "5"},
                   {header::kOriginalOffset, "123456"}},
                  3, 77);
  Origin origin = tiers.origin_of(record.record);
  CHECK(origin.topic == "inbound.email");
  CHECK(origin.partition == 3);
  CHECK(origin.offset == 77);
}

TEST_CASE("retry tiers: missing or malformed origin headers fall back to the record's own place", "[engine][retry]") {
  RetryTiers tiers(three_tiers());
  const Headers good = {{header::kOriginalTopic, "inbound.whatsapp"},
                        {header::kOriginalPartition, "5"},
                        {header::kOriginalOffset, "123456"}};
  auto without = [&](const char* name) {
    Headers headers;
    for (const auto& header : good) {
      if (header.first != name) headers.push_back(header);
    }
    return headers;
  };
  auto with = [&](const char* name, const char* value) {
    Headers headers = good;
    for (auto& header : headers) {
      if (header.first == name) header.second = value;
    }
    return headers;
  };
  const std::vector<Headers> broken = {
      without(header::kOriginalTopic),
      without(header::kOriginalPartition),
      without(header::kOriginalOffset),
      with(header::kOriginalTopic, ""),
      with(header::kOriginalPartition, "-1"),
      with(header::kOriginalPartition, "2147483648"),
      with(header::kOriginalPartition, "five"),
      with(header::kOriginalOffset, "-3"),
      with(header::kOriginalOffset, "12x"),
  };
  for (const Headers& headers : broken) {
    Consumed record("retry.30s", 1, headers, 4, 900);
    Origin origin = tiers.origin_of(record.record);
    CHECK(origin.topic == "retry.30s");
    CHECK(origin.partition == 4);
    CHECK(origin.offset == 900);
  }
}
