// dlq.format: raw — the DLQ record is the original value, key and headers byte for byte, with
// the failure in sluice-* headers; when space is short the context gives, never the value or
// the key. And `sluice replay`'s reading of either format.

#include <catch2/catch.hpp>

#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "common/outcome.h"
#include "engine/raw_dead_letter.h"
#include "engine/record_headers.h"
#include "side_records_helpers.h"

using namespace sluice::engine;
using namespace sluice::engine::testing;

namespace {

const std::chrono::system_clock::time_point kFailedAt{std::chrono::milliseconds(1'764'151'928'123)};
const std::string kFailedAtText = "2025-11-26T10:12:08.123Z";

struct RawFailed {
  SourceRecord source;
  DeadLetterSettings settings;
  DeadLetterRecord built;

  RawFailed(std::optional<std::string> key, std::optional<std::string> value, HeaderList headers,
            int64_t limit = 1'000'000, DeadLetterLevel level = DeadLetterLevel::Full)
      : source(std::move(key), std::move(value), std::move(headers)) {
    source.record.reason = sluice::Reason::SchemaViolation;
    source.record.stage = "schema";
    source.record.detail = "/payload/to: not an email address";
    source.record.retry_count = 2;
    source.record.dead_letter_level = level;
    settings.topic = "dlq";
    settings.max_message_bytes = limit;
    settings.format = sluice::config::DlqFormat::Raw;
  }
  void build() { build_dead_letter_record(source.record, settings, Origin{"inbound.email", 1, 1234}, kFailedAt, built); }
  HeaderList headers() const { return read_headers(built.out.headers.get()); }
  std::optional<std::string> header(const std::string& name) const {
    auto values = header_values(built.out.headers.get(), name);
    REQUIRE(values.size() <= 1);  // the context headers are never duplicated
    if (values.empty()) return std::nullopt;
    return values[0];
  }
  std::string key() const { return std::string(static_cast<const char*>(built.out.key), built.out.key_size); }
};

// The headers a raw record carries besides the original's, with their values for RawFailed.
const HeaderList kContext = {{"sluice-dlq-format", "raw"},
                             {"sluice-error", "schema_violation"},
                             {"sluice-error-stage", "schema"},
                             {"sluice-error-detail", "/payload/to: not an email address"},
                             {"sluice-original-topic", "inbound.email"},
                             {"sluice-original-partition", "1"},
                             {"sluice-original-offset", "1234"},
                             {"sluice-original-timestamp", "1700000000000"},
                             {"sluice-failed-at", kFailedAtText},
                             {"sluice-retry-count", "2"}};

HeaderList concat(HeaderList first, const HeaderList& second) {
  first.insert(first.end(), second.begin(), second.end());
  return first;
}

}  // namespace

TEST_CASE("raw dead letter: the original value, key and headers, then every context header", "[engine][dlq][raw]") {
  const std::string value = "{\"channel\":\"email\",\"payload\":{\"to\":\"nobody\"}}";
  RawFailed f("id-42", value, {{"traceparent", "00-abc"}, {"tenant", "t1"}});
  f.build();
  CHECK(f.built.raw);
  CHECK(f.built.level == DeadLetterLevel::Full);
  CHECK(f.built.envelope.empty());
  CHECK(f.built.out.topic == "dlq");
  CHECK(f.built.out.value == value);
  CHECK_FALSE(f.built.out.null_value);
  CHECK(f.key() == "id-42");
  CHECK(f.built.out.opaque == &f.source.record);
  CHECK(f.headers() == concat({{"traceparent", "00-abc"}, {"tenant", "t1"}}, kContext));
}

TEST_CASE("raw dead letter: an HTTP refusal adds its status and response excerpt", "[engine][dlq][raw]") {
  RawFailed f("id-1", "{}", {});
  f.source.record.reason = sluice::Reason::ForwardRejected;
  f.source.record.stage = sluice::stage_name::kForward;
  f.source.record.http_status = 422;
  f.source.record.response_excerpt = "{\"error\":\"unprocessable\"}";
  f.build();
  CHECK(f.header("sluice-error") == "forward_rejected");
  CHECK(f.header("sluice-http-status") == "422");
  CHECK(f.header("sluice-http-response") == "{\"error\":\"unprocessable\"}");
}

TEST_CASE("raw dead letter: a tombstone stays a tombstone, a record without key or timestamp has none",
          "[engine][dlq][raw]") {
  RawFailed f(std::nullopt, std::nullopt, {});
  f.source.record.timestamp_ms = -1;
  f.build();
  CHECK(f.built.raw);
  CHECK(f.built.out.null_value);
  CHECK(f.built.out.value.empty());
  CHECK(f.built.out.key == nullptr);
  CHECK(f.built.out.key_size == 0);
  CHECK_FALSE(f.header("sluice-original-timestamp"));
  CHECK(f.header("sluice-error") == "schema_violation");
}

TEST_CASE("raw dead letter: a binary key and value are kept byte for byte", "[engine][dlq][raw]") {
  const std::string key("\x00\xff\xfe key \x80", 9);
  const std::string value("\xc3\x28 not utf-8 \x00 inside", 20);
  RawFailed f(key, value, {{"bin", std::string("\x00\x01", 2)}});
  f.build();
  CHECK(f.key() == key);
  CHECK(f.built.out.value == value);
  CHECK(header_values(f.built.out.headers.get(), "bin") == std::vector<std::string>{std::string("\x00\x01", 2)});
}

TEST_CASE("raw dead letter: a record from a retry tier loses its tier state and gets one of each context header",
          "[engine][dlq][raw]") {
  RawFailed f("id-7", "{}",
              {{"traceparent", "00-abc"},
               {"sluice-retry-count", "2"},
               {"sluice-retry-due", "1764151928000"},
               {"sluice-retry-after", "30000"},
               {"sluice-tier-writes", "2"},
               {"sluice-parked-behind", "12"},
               {"sluice-original-topic", "inbound.email"},
               {"sluice-original-partition", "1"},
               {"sluice-original-offset", "1234"},
               {"sluice-error", "http_5xx"},
               {"sluice-fingerprint", "abcd"},
               {"sluice-source", "retry.1s/0/3"},
               {"sluice-replay-count", "1"},
               {"upstream-sluice-dlq-format", "raw"}});
  f.build();
  // The context is authoritative: the tier's values are replaced, state headers are gone,
  // and headers from outside (renamed on intake) or the replay count stay as they were.
  CHECK(f.headers() ==
        concat({{"traceparent", "00-abc"}, {"sluice-replay-count", "1"}, {"upstream-sluice-dlq-format", "raw"}}, kContext));
}

TEST_CASE("raw dead letter: past the limit the detail gives first, then the original headers, never value or key",
          "[engine][dlq][raw]") {
  const int64_t limit = 200'000;
  SizeCheck check(limit);
  const std::string key = "id-" + patterned(100, 1);
  const HeaderList original = {{"traceparent", "00-abc"}, {"sluice-replay-count", "1"}, {"blob", patterned(20'000, 2)}};
  const std::string long_detail = patterned(30'000, 3);

  SECTION("the detail is left out, the original headers stay") {
    RawFailed f(key, patterned(150'000, 4), original, limit);
    f.source.record.detail = long_detail;
    f.build();
    CHECK(f.built.raw);
    CHECK(f.built.level == DeadLetterLevel::Full);
    CHECK_FALSE(f.header("sluice-error-detail"));
    CHECK(f.header("sluice-error") == "schema_violation");
    CHECK(header_values(f.built.out.headers.get(), "blob") == std::vector<std::string>{original[2].second});
    CHECK(f.built.out.value == patterned(150'000, 4));
    CHECK(check.accepts(f.built.out));
  }
  SECTION("the original headers are left out and counted; the replay count stays") {
    RawFailed f(key, patterned(185'000, 5), original, limit);
    f.source.record.detail = long_detail;
    f.build();
    CHECK(f.built.raw);
    CHECK(f.built.level == DeadLetterLevel::Truncated);
    CHECK(f.key() == key);
    CHECK(f.built.out.value == patterned(185'000, 5));
    CHECK(f.header("sluice-original-headers-dropped") == "3");
    CHECK(f.header("sluice-replay-count") == "1");
    CHECK_FALSE(f.header("traceparent"));
    CHECK_FALSE(f.header("sluice-error-detail"));
    CHECK(f.header("sluice-original-offset") == "1234");
    CHECK(check.accepts(f.built.out));
  }
  SECTION("a value and key past the limit themselves: the minimal envelope, not a cut raw record") {
    RawFailed f(key, patterned(250'000, 6), original, limit);
    f.build();
    CHECK_FALSE(f.built.raw);
    CHECK(f.built.level == DeadLetterLevel::Minimal);
    auto envelope = parse_json(f.built.envelope);
    CHECK(json_string(envelope["original_sha256"]) == sha256_hex(patterned(250'000, 6)));
    CHECK(check.accepts(f.built.out));
  }
  SECTION("after a broker refusal (level Truncated, then Minimal) the record holds less") {
    RawFailed truncated(key, "{}", original, limit, DeadLetterLevel::Truncated);
    truncated.build();
    CHECK(truncated.built.raw);
    CHECK(truncated.built.level == DeadLetterLevel::Truncated);
    CHECK(truncated.header("sluice-original-headers-dropped") == "3");
    CHECK(truncated.built.out.value == "{}");
    RawFailed minimal(key, "{}", original, limit, DeadLetterLevel::Minimal);
    minimal.build();
    CHECK_FALSE(minimal.built.raw);
    CHECK(minimal.built.level == DeadLetterLevel::Minimal);
  }
}

TEST_CASE("raw dead letter: random sizes and limits give the whole original or the minimal envelope, within the limit",
          "[engine][dlq][raw]") {
  std::mt19937_64 random(20261206);
  auto below = [&](uint64_t bound) { return bound == 0 ? 0 : random() % bound; };
  auto any_size = [&](int max_bits) { return static_cast<size_t>(below(uint64_t{1} << below(static_cast<uint64_t>(max_bits) + 1))); };
  const std::vector<int64_t> limits = {16'384, 200'000, 1'000'000, 5'000'000};
  std::map<int64_t, std::unique_ptr<SizeCheck>> checks;
  for (int64_t limit : limits) checks[limit] = std::make_unique<SizeCheck>(limit);
  for (int round = 0; round < 120; ++round) {
    std::optional<std::string> key;
    if (below(5) != 0) key = patterned(any_size(19), static_cast<char>(round));
    std::optional<std::string> value;
    if (below(10) != 0) value = patterned(any_size(22), static_cast<char>(round + 1));
    HeaderList headers;
    for (size_t i = 0, count = below(5); i < count; ++i) headers.emplace_back("h" + std::to_string(i), patterned(any_size(19), 'y'));
    const int64_t limit = limits[below(limits.size())];
    INFO("round " << round << ": key " << (key ? std::to_string(key->size()) : "none") << ", value "
                  << (value ? std::to_string(value->size()) : "null") << ", limit " << limit);
    RawFailed f(key, value, headers, limit);
    f.source.record.detail = patterned(any_size(11), 'd');  // the minimal envelope carries it whole
    f.build();
    CHECK(checks[limit]->accepts(f.built.out));
    if (!f.built.raw) {
      CHECK(f.built.level == DeadLetterLevel::Minimal);
      continue;
    }
    CHECK(f.built.out.null_value == !value.has_value());
    if (value) CHECK(f.built.out.value == *value);
    CHECK(f.built.out.key_size == (key ? key->size() : 0));
    if (key) CHECK(f.key() == *key);
    CHECK(f.header("sluice-dlq-format") == "raw");
    if (f.built.level == DeadLetterLevel::Full) CHECK(f.headers().size() >= headers.size() + kContext.size() - 1);
  }
}

// ---- replay's reading ---------------------------------------------------------------------

TEST_CASE("dead-letter decoding: the sluice-dlq-format header tells a raw record from an envelope", "[engine][dlq][raw]") {
  SECTION("a raw record decodes from its headers, its value the original") {
    RawFailed f("id-42", "not json at all", {{"traceparent", "00-abc"}});
    f.build();
    DecodedEnvelope decoded = decode_dead_letter_record(f.built.out.value, f.built.out.headers.get());
    CHECK(decoded.raw);
    REQUIRE(decoded.replayable);
    CHECK(decoded.value == "not json at all");
    CHECK(decoded.original_topic == "inbound.email");
    CHECK(decoded.error == "schema_violation");
    CHECK(decoded.error_stage == "schema");
    REQUIRE(decoded.failed_at);
    CHECK(*decoded.failed_at == kFailedAt);
  }
  SECTION("a raw tombstone decodes to a null value") {
    RawFailed f("id-42", std::nullopt, {});
    f.build();
    DecodedEnvelope decoded = decode_dead_letter_record(std::nullopt, f.built.out.headers.get());
    CHECK(decoded.replayable);
    CHECK_FALSE(decoded.value.has_value());
  }
  SECTION("a raw record whose value is a JSON envelope is still raw: the header decides") {
    RawFailed f("id-42", R"({"original_message":"x","original_topic":"elsewhere"})", {});
    f.build();
    DecodedEnvelope decoded = decode_dead_letter_record(f.built.out.value, f.built.out.headers.get());
    CHECK(decoded.raw);
    CHECK(decoded.original_topic == "inbound.email");
    CHECK(decoded.value == R"({"original_message":"x","original_topic":"elsewhere"})");
  }
  SECTION("without the marker, sluice-original-topic alone does not make a record raw") {
    sluice::kafka::HeadersPtr headers(rd_kafka_headers_new(2));
    rd_kafka_header_add(headers.get(), "sluice-original-topic", -1, "inbound.email", -1);
    rd_kafka_header_add(headers.get(), "upstream-sluice-dlq-format", -1, "raw", -1);
    DecodedEnvelope decoded = decode_dead_letter_record(std::string_view("plain value"), headers.get());
    CHECK_FALSE(decoded.raw);
    CHECK_FALSE(decoded.replayable);
    CHECK(decoded.why_not == "not a DLQ envelope");
  }
  SECTION("an envelope record decodes from its value, with or without headers") {
    RawFailed f("id-42", "{\"a\":1}", {{"traceparent", "00-abc"}});
    f.settings.format = sluice::config::DlqFormat::Envelope;
    f.build();
    REQUIRE_FALSE(f.built.raw);
    DecodedEnvelope decoded = decode_dead_letter_record(f.built.out.value, f.built.out.headers.get());
    CHECK_FALSE(decoded.raw);
    CHECK(decoded.replayable);
    CHECK(decoded.value == "{\"a\":1}");
    CHECK(decode_dead_letter_record(f.built.out.value, nullptr).value == "{\"a\":1}");
  }
  SECTION("a raw record without its original topic is not replayable") {
    sluice::kafka::HeadersPtr headers(rd_kafka_headers_new(1));
    rd_kafka_header_add(headers.get(), "sluice-dlq-format", -1, "raw", -1);
    DecodedEnvelope decoded = decode_dead_letter_record(std::string_view("v"), headers.get());
    CHECK(decoded.raw);
    CHECK_FALSE(decoded.replayable);
  }
}

TEST_CASE("dead-letter decoding: removing the context leaves the original headers", "[engine][dlq][raw]") {
  const HeaderList original = {{"traceparent", "00-abc"}, {"sluice-replay-count", "1"}, {"tenant", "t1"}};
  RawFailed f("id-42", "{}", original);
  f.source.record.http_status = 503;
  f.build();
  remove_dead_letter_context(f.built.out.headers.get());
  CHECK(f.headers() == original);
}
