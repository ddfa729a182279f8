// The DLQ record: as full as the producer's message.max.bytes allows, and always within it.
// Whether a record fits is asked of librdkafka itself: a producer refuses a record larger
// than its message.max.bytes at once (MSG_SIZE_TOO_LARGE), before any broker is involved.

#include <catch2/catch.hpp>

#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "common/outcome.h"
#include "engine/side_records.h"
#include "side_records_helpers.h"

using namespace sluice::engine;
using namespace sluice::engine::testing;

namespace {

// What build_dead_letter_record reserves for framing and sluice's own headers.
constexpr int64_t kFramingBytes = 4096;

const std::chrono::system_clock::time_point kFailedAt{std::chrono::milliseconds(1'764'151'928'123)};

int64_t header_bytes(const HeaderList& headers) {
  int64_t total = 0;
  for (const auto& [name, value] : headers) total += static_cast<int64_t>(name.size() + value.size());
  return total;
}

// The size the builder must keep within the limit: envelope, the key it kept, the original
// headers it kept and the framing allowance.
int64_t accounted_size(const DeadLetterRecord& built, const HeaderList& original_headers) {
  const HeaderList out = read_headers(built.out.headers.get());
  const bool kept_headers = out.size() > 2;
  return static_cast<int64_t>(built.envelope.size()) + static_cast<int64_t>(built.out.key_size) +
         (kept_headers ? header_bytes(original_headers) : 0) + kFramingBytes;
}

struct Failed {
  SourceRecord source;
  DeadLetterSettings settings;
  DeadLetterRecord built;

  Failed(std::optional<std::string> key, std::optional<std::string> value, HeaderList headers, int64_t limit,
         DeadLetterLevel level = DeadLetterLevel::Full)
      : source(std::move(key), std::move(value), std::move(headers)) {
    source.record.reason = sluice::Reason::ForwardRejected;
    source.record.stage = sluice::stage_name::kForward;
    source.record.detail = "Broker: Message size too large";
    source.record.dead_letter_level = level;
    settings.topic = "dlq";
    settings.max_message_bytes = limit;
  }
  void build() {
    build_dead_letter_record(source.record, settings, Origin{"inbound.email", 1, 1234}, kFailedAt, built);
  }
};

}  // namespace

TEST_CASE("dead-letter record: one that fits is full, with the original key and headers", "[engine][dlq]") {
  Failed f("id-42", R"({"channel":"email"})",
           {{"traceparent", "00-abc"}, {"sluice-retry-due", "1"}, {"sluice-retry-count", "2"}}, 1'000'000);
  f.build();
  CHECK(f.built.level == DeadLetterLevel::Full);
  CHECK(f.built.out.topic == "dlq");
  REQUIRE(f.built.out.key != nullptr);
  CHECK(std::string(static_cast<const char*>(f.built.out.key), f.built.out.key_size) == "id-42");
  CHECK(f.built.out.value == f.built.envelope);
  CHECK(f.built.out.opaque == &f.source.record);
  const HeaderList expected = {{"traceparent", "00-abc"},
                               {"sluice-retry-count", "2"},
                               {"sluice-error", "forward_rejected"},
                               {"sluice-error-stage", "forward"}};
  CHECK(read_headers(f.built.out.headers.get()) == expected);
  auto envelope = parse_json(f.built.envelope);
  CHECK(json_string(envelope["original_message"]) == R"({"channel":"email"})");
  CHECK(json_string(envelope["original_key"]) == "id-42");
  CHECK(json_string(envelope["error"]) == "forward_rejected");
  CHECK(json_string(envelope["error_stage"]) == "forward");
  CHECK(json_string(envelope["original_topic"]) == "inbound.email");
  CHECK(envelope["original_offset"].GetInt64() == 1234);
  CHECK_FALSE(envelope.HasMember("original_truncated"));
  CHECK_FALSE(envelope.HasMember("original_headers_dropped"));
}

TEST_CASE("dead-letter record: a 600 KB key under a 1 MB limit is embedded truncated and not kept as the key",
          "[engine][dlq]") {
  const std::string key = patterned(600 * 1024, 3);
  const int64_t limit = 1'000'000;
  Failed f(key, R"({"channel":"email"})", {{"traceparent", "00-abc"}}, limit);
  f.build();
  CHECK(f.built.level != DeadLetterLevel::Full);
  CHECK(f.built.out.key == nullptr);  // the DLQ record has no Kafka key
  CHECK(f.built.out.key_size == 0);
  const HeaderList original = {{"traceparent", "00-abc"}};
  CHECK(accounted_size(f.built, original) <= limit);
  SizeCheck check(limit);
  CHECK(check.accepts(f.built.out));

  auto envelope = parse_json(f.built.envelope);
  CHECK(envelope["original_key_truncated"].IsTrue());
  CHECK(envelope["original_key_size"].GetInt64() == static_cast<int64_t>(key.size()));
  CHECK(json_string(envelope["original_key_sha256"]) == sha256_hex(key));
  auto prefix = sluice::text::base64_decode(json_string(envelope["original_key_base64"]));
  REQUIRE(prefix);
  CHECK_FALSE(prefix->empty());
  CHECK(prefix->size() < key.size());
  CHECK(key.compare(0, prefix->size(), *prefix) == 0);
  CHECK_FALSE(envelope.HasMember("original_key"));
  // The small value and headers still go whole.
  CHECK(json_string(envelope["original_message"]) == R"({"channel":"email"})");
  CHECK(header_values(f.built.out.headers.get(), "traceparent") == std::vector<std::string>{"00-abc"});
}

TEST_CASE("dead-letter record: headers too large to carry are dropped and counted", "[engine][dlq]") {
  const int64_t limit = 1'000'000;
  HeaderList huge = {{"a", patterned(600 * 1024, 1)}, {"b", patterned(600 * 1024, 2)}};
  Failed f("id-42", "{}", huge, limit);
  f.build();
  CHECK(read_headers(f.built.out.headers.get()) ==
        HeaderList{{"sluice-error", "forward_rejected"}, {"sluice-error-stage", "forward"}});
  auto envelope = parse_json(f.built.envelope);
  CHECK(envelope["original_headers_dropped"].GetInt() == 2);
  REQUIRE(f.built.out.key != nullptr);  // the small key is still the record's key
  CHECK(std::string(static_cast<const char*>(f.built.out.key), f.built.out.key_size) == "id-42");
  CHECK(accounted_size(f.built, huge) <= limit);
  SizeCheck check(limit);
  CHECK(check.accepts(f.built.out));
}

TEST_CASE("dead-letter record: minimal holds no original bytes", "[engine][dlq]") {
  const std::string value = "VALUE-BYTES-" + patterned(5000, 5);
  const std::string key = "KEY-BYTES-" + patterned(1000, 6);
  Failed f(key, value, {{"app", "HEADER-BYTES"}}, 1'000'000, DeadLetterLevel::Minimal);
  f.build();
  CHECK(f.built.level == DeadLetterLevel::Minimal);
  CHECK(f.built.envelope.find("BYTES") == std::string::npos);
  CHECK(f.built.out.key == nullptr);  // larger than a minimal record keeps
  CHECK(read_headers(f.built.out.headers.get()) ==
        HeaderList{{"sluice-error", "forward_rejected"}, {"sluice-error-stage", "forward"}});
  auto envelope = parse_json(f.built.envelope);
  CHECK(json_string(envelope["original_message_base64"]).empty());
  CHECK(envelope["original_size"].GetInt64() == static_cast<int64_t>(value.size()));
  CHECK(json_string(envelope["original_sha256"]) == sha256_hex(value));
  CHECK(json_string(envelope["original_key_base64"]).empty());
  CHECK(json_string(envelope["original_key_sha256"]) == sha256_hex(key));
  CHECK(envelope["original_headers_dropped"].GetInt() == 1);

  // A small key stays the record's key (it is what a consumer of the DLQ partitions by).
  Failed small("id-1", value, {}, 1'000'000, DeadLetterLevel::Minimal);
  small.build();
  REQUIRE(small.built.out.key != nullptr);
  CHECK(std::string(static_cast<const char*>(small.built.out.key), small.built.out.key_size) == "id-1");
}

TEST_CASE("dead-letter record: an error detail larger than the limit is cut in the minimal record, at a UTF-8 boundary",
          "[engine][dlq]") {
  // A schema violation names its path with the record's own keys, so a detail can be as large
  // as the record.
  Failed f("id-1", "{}", {}, 100'000);
  f.source.record.detail = "at /" + std::string(200'000, 'k') + "\xC3\xA9: expected a string";
  f.build();
  CHECK(f.built.level == DeadLetterLevel::Minimal);
  CHECK(accounted_size(f.built, {}) <= 100'000);
  auto envelope = parse_json(f.built.envelope);
  const std::string detail = json_string(envelope["error_detail"]);
  CHECK(detail.size() <= 1024);
  CHECK(detail.rfind("at /kkk", 0) == 0);

  // The cut never splits a character.
  Failed accented("id-2", "{}", {}, 100'000);
  accented.source.record.detail = std::string(1023, 'k') + "\xC3\xA9" + std::string(200'000, 'k');
  accented.build();
  const std::string cut = json_string(parse_json(accented.built.envelope)["error_detail"]);
  CHECK(cut == std::string(1023, 'k'));
}

TEST_CASE("dead-letter record: random sizes and limits always give a record within the limit", "[engine][dlq]") {
  std::mt19937_64 random(20251126);
  auto below = [&](uint64_t bound) { return bound == 0 ? 0 : random() % bound; };
  auto any_size = [&](int max_bits) { return static_cast<size_t>(below(uint64_t{1} << below(static_cast<uint64_t>(max_bits) + 1))); };
  const std::vector<int64_t> limits = {16'384, 65'536, 200'000, 1'000'000, 1'048'576, 5'000'000};
  std::map<int64_t, std::unique_ptr<SizeCheck>> checks;
  for (int64_t limit : limits) checks[limit] = std::make_unique<SizeCheck>(limit);

  for (int round = 0; round < 150; ++round) {
    std::optional<std::string> key;
    if (below(5) != 0) key = patterned(any_size(20), static_cast<char>(round));
    std::optional<std::string> value;
    if (below(10) != 0) value = patterned(any_size(21), static_cast<char>(round + 1));
    HeaderList headers;
    if (below(8) == 0) {
      // Many small headers: the framing of each counts, not only its bytes.
      const size_t count = 200 + below(3000);
      for (size_t i = 0; i < count; ++i) headers.emplace_back("h" + std::to_string(i % 97), patterned(below(3), 'x'));
    } else {
      const size_t count = below(6);
      for (size_t i = 0; i < count; ++i) headers.emplace_back("h" + std::to_string(i), patterned(any_size(19), 'y'));
    }
    const int64_t limit = limits[below(limits.size())];
    const auto level = static_cast<DeadLetterLevel>(below(3));
    INFO("round " << round << ": key " << (key ? std::to_string(key->size()) : "none") << ", value "
                  << (value ? std::to_string(value->size()) : "null") << ", " << headers.size() << " headers of "
                  << header_bytes(headers) << " bytes, limit " << limit << ", level " << static_cast<int>(level));
    Failed f(key, value, headers, limit, level);
    f.build();
    CHECK(static_cast<int>(f.built.level) >= static_cast<int>(level));
    if (f.built.level != DeadLetterLevel::Minimal) CHECK(accounted_size(f.built, headers) <= limit);
    CHECK(checks[limit]->accepts(f.built.out));
    auto envelope = parse_json(f.built.envelope);
    if (f.built.out.key != nullptr) {
      REQUIRE(key);
      CHECK(std::string(static_cast<const char*>(f.built.out.key), f.built.out.key_size) == *key);
    }
    if (f.built.level == DeadLetterLevel::Full) {
      CHECK(f.built.out.key_size == (key ? key->size() : 0));
      CHECK(read_headers(f.built.out.headers.get()).size() == headers.size() + 2);
    }
    if (envelope.HasMember("original_truncated")) {
      REQUIRE(value);
      CHECK(json_string(envelope["original_sha256"]) == sha256_hex(*value));
    } else if (value) {
      CHECK(json_string(envelope["original_message"]) == *value);
    }
  }
}

TEST_CASE("dead-letter record: a full record right at the limit fits, however many headers it has", "[engine][dlq]") {
  // Each header costs a few bytes of framing besides its name and value. With thousands of
  // tiny headers that adds up to more than the fixed allowance, so a record accounted as just
  // fitting must still be within the producer's limit.
  const int64_t limit = 200'000;
  SizeCheck check(limit);
  for (size_t count : {size_t{0}, size_t{10}, size_t{1000}, size_t{3000}, size_t{6000}}) {
    HeaderList headers;
    for (size_t i = 0; i < count; ++i) headers.emplace_back("h" + std::to_string(i % 10), "");
    // Sized from a first build so that the full record is accounted exactly at the limit.
    Failed probe("id-42", std::string(1000, 'v'), headers, 1'000'000'000);
    probe.build();
    const int64_t overhead = static_cast<int64_t>(probe.built.envelope.size()) - 1000;
    const int64_t value_size = limit - kFramingBytes - header_bytes(headers) - 5 - overhead;
    REQUIRE(value_size > 0);
    Failed f("id-42", std::string(static_cast<size_t>(value_size), 'v'), headers, limit);
    f.build();
    INFO(count << " headers, level " << static_cast<int>(f.built.level));
    if (count == 0) CHECK(f.built.level == DeadLetterLevel::Full);  // exactly at the limit still fits
    CHECK(accounted_size(f.built, headers) <= limit);
    CHECK(check.accepts(f.built.out));

    // One byte more and the full record no longer fits the allowance: a smaller level is built.
    Failed over("id-42", std::string(static_cast<size_t>(value_size + 1), 'v'), headers, limit);
    over.build();
    CHECK(over.built.level != DeadLetterLevel::Full);
    CHECK(accounted_size(over.built, headers) <= limit);
    CHECK(check.accepts(over.built.out));
  }
}
