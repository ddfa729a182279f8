// The DLQ envelope read back, as `sluice replay` reads it: whatever build_dead_letter_envelope
// wrote whole comes back byte for byte; what it had to cut is refused with a reason.

#include <catch2/catch.hpp>

#include "engine/dead_letter_envelope.h"

using namespace sluice::engine;

namespace {

DeadLetterInfo info_for(std::string_view value) {
  DeadLetterInfo info;
  info.value = value;
  info.topic = "inbound.email";
  info.partition = 1;
  info.offset = 7;
  info.error = "invalid_json";
  info.error_stage = "parse";
  info.failed_at = std::chrono::system_clock::time_point(std::chrono::milliseconds(1764151928123));
  return info;
}

}  // namespace

TEST_CASE("a DLQ envelope decodes to the original value, topic, error and time", "[engine][dlq]") {
  static const char kBinary[] = "\xff\xfe binary \x00 inside";
  for (std::string value : {std::string("{\"a\":1}"), std::string("not json \"quoted\" \\ and \xe2\x82\xac"),
                            std::string(kBinary, sizeof kBinary - 1)}) {
    INFO(value);
    DecodedEnvelope decoded = decode_dead_letter_envelope(build_dead_letter_envelope(info_for(value)));
    REQUIRE(decoded.replayable);
    CHECK(decoded.value == value);
    CHECK(decoded.original_topic == "inbound.email");
    CHECK(decoded.error == "invalid_json");
    CHECK(decoded.error_stage == "parse");
    REQUIRE(decoded.failed_at);
    CHECK(std::chrono::duration_cast<std::chrono::milliseconds>(decoded.failed_at->time_since_epoch()).count() ==
          1764151928123);
  }
}

TEST_CASE("a tombstone decodes to no value; a truncated envelope is not replayable", "[engine][dlq]") {
  DeadLetterInfo tombstone = info_for({});
  tombstone.value_is_null = true;
  DecodedEnvelope decoded = decode_dead_letter_envelope(build_dead_letter_envelope(tombstone));
  REQUIRE(decoded.replayable);
  CHECK_FALSE(decoded.value);

  const std::string large(1000, 'x');
  DeadLetterInfo truncated = info_for(large);
  truncated.embed_limit = 10;
  DecodedEnvelope cut = decode_dead_letter_envelope(build_dead_letter_envelope(truncated));
  CHECK_FALSE(cut.replayable);
  CHECK(cut.why_not == "original value was truncated in the envelope");

  CHECK(decode_dead_letter_envelope("not an envelope").why_not == "not a DLQ envelope");
  CHECK(decode_dead_letter_envelope("{\"original_message\":\"x\"}").why_not == "no original_topic in the envelope");
}
