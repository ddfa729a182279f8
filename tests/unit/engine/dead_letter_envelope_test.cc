#include <catch2/catch.hpp>

#include <rapidjson/document.h>

#include "common/text.h"
#include "engine/dead_letter_envelope.h"

using namespace sluice::engine;

namespace {

rapidjson::Document parse(const std::string& text) {
  rapidjson::Document document;
  document.Parse(text.data(), text.size());
  REQUIRE_FALSE(document.HasParseError());
  return document;
}

DeadLetterInfo base_info() {
  DeadLetterInfo info;
  info.topic = "inbound.email";
  info.partition = 2;
  info.offset = 1234;
  info.error = "schema_violation";
  info.error_stage = "schema";
  info.error_detail = "payload.from_email: not a valid email address";
  info.timestamp_ms = 1700000000000;
  info.failed_at = std::chrono::system_clock::time_point(std::chrono::milliseconds(1764151928123));
  return info;
}

}  // namespace

TEST_CASE("the envelope carries the reference fields and the original value byte for byte", "[engine][dlq]") {
  const std::string value = std::string("{\"a\":\"caf\xc3\xa9 \\\"q\\\" \x01\"}") + std::string("\0tail", 5);
  const std::string key = "id-7";
  DeadLetterInfo info = base_info();
  info.value = value;
  info.key = key.data();
  info.key_size = key.size();
  auto document = parse(build_dead_letter_envelope(info));
  REQUIRE(document["original_message"].IsString());
  CHECK(std::string(document["original_message"].GetString(), document["original_message"].GetStringLength()) == value);
  CHECK(std::string(document["original_key"].GetString()) == "id-7");
  CHECK(std::string(document["error"].GetString()) == "schema_violation");
  CHECK(std::string(document["error_stage"].GetString()) == "schema");
  CHECK(std::string(document["original_topic"].GetString()) == "inbound.email");
  CHECK(document["original_partition"].GetInt() == 2);
  CHECK(document["original_offset"].GetInt64() == 1234);
  CHECK(document["original_timestamp"].GetInt64() == 1700000000000);
  CHECK(std::string(document["failed_at"].GetString()) == "2025-11-26T10:12:08.123Z");
  CHECK(document["retry_count"].GetInt() == 0);
  CHECK(document["max_retries_exceeded"].IsFalse());
}

TEST_CASE("values and keys that are not UTF-8 are carried as base64", "[engine][dlq]") {
  const std::string value = "\xff\xfe{not json";
  const std::string key = "\x80key";
  DeadLetterInfo info = base_info();
  info.value = value;
  info.key = key.data();
  info.key_size = key.size();
  auto document = parse(build_dead_letter_envelope(info));
  CHECK_FALSE(document.HasMember("original_message"));
  CHECK(sluice::text::base64_decode(document["original_message_base64"].GetString()) == value);
  CHECK(sluice::text::base64_decode(document["original_key_base64"].GetString()) == key);
}

TEST_CASE("a tombstone and a missing key are explicit nulls", "[engine][dlq]") {
  DeadLetterInfo info = base_info();
  info.value_is_null = true;
  auto document = parse(build_dead_letter_envelope(info));
  CHECK(document["original_message"].IsNull());
  CHECK(document["original_message_null"].IsTrue());
  CHECK(document["original_key"].IsNull());
}

TEST_CASE("an oversized value is embedded as a prefix with its size and digest", "[engine][dlq]") {
  std::string value(100000, 'x');
  DeadLetterInfo info = base_info();
  info.value = value;
  info.embed_limit = 1000;
  auto document = parse(build_dead_letter_envelope(info));
  CHECK(document["original_truncated"].IsTrue());
  CHECK(document["original_size"].GetInt64() == 100000);
  CHECK(sluice::text::base64_decode(document["original_message_base64"].GetString()) == value.substr(0, 1000));
  CHECK(std::string(document["original_sha256"].GetString()).size() == 64);
}

TEST_CASE("retry fields are carried as given", "[engine][dlq]") {
  DeadLetterInfo info = base_info();
  info.value = "{}";
  info.retry_count = 5;
  info.max_retries_exceeded = true;
  auto document = parse(build_dead_letter_envelope(info));
  CHECK(document["retry_count"].GetInt() == 5);
  CHECK(document["max_retries_exceeded"].IsTrue());
}
