// pipeline.value_framing: confluent — the parse stage takes the JSON after the Confluent
// wire-format header, later stages and the fingerprint see only that JSON, and a value
// without the header is invalid_framing.

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "fingerprint/fingerprint.h"
#include "stages/parse_stage.h"
#include "stages/stage_chain.h"

using namespace sluice;
using namespace sluice::stages;

namespace {

const std::string kEmail =
    R"({"channel":"email","message_type":"email_received","payload":{"from_email":"a@example.com",)"
    R"("to_email":"b@example.com","subject":"s","body":"hello","timestamp":"2024-09-18T14:32:05Z"}})";

// The header for schema id `id`: 0x00, then the id big-endian.
std::string framed(const std::string& json, uint32_t id = 0x01020304) {
  std::string value(1, '\0');
  for (int shift = 24; shift >= 0; shift -= 8) value.push_back(static_cast<char>((id >> shift) & 0xff));
  return value + json;
}

ParseStage confluent_parser() { return ParseStage(64, config::ValueFraming::Confluent); }

}  // namespace

TEST_CASE("framing: a framed valid record is parsed on its JSON; the value keeps its header",
          "[stages][parse][framing]") {
  ParseStage stage = confluent_parser();
  MessageContext message;
  const std::string value = framed(kEmail);
  message.reset(value, false);
  REQUIRE(stage.process(message).verdict == Verdict::Continue);
  CHECK(message.channel == "email");
  CHECK(message.message_type == "email_received");
  CHECK(message.payload == kEmail);
  CHECK(message.value == value);  // what is forwarded: header and all
  CHECK(message.value.size() == kEmail.size() + 5);
}

TEST_CASE("framing: a framed value whose JSON is invalid is invalid_json", "[stages][parse][framing]") {
  ParseStage stage = confluent_parser();
  MessageContext message;
  const std::string value = framed(R"({"channel":)");
  message.reset(value, false);
  StageResult result = stage.process(message);
  CHECK(result.verdict == Verdict::DeadLetter);
  CHECK(result.reason == "invalid_json");
}

TEST_CASE("framing: exactly the 5-byte header is an empty JSON text, invalid_json", "[stages][parse][framing]") {
  ParseStage stage = confluent_parser();
  MessageContext message;
  const std::string value = framed("");
  REQUIRE(value.size() == 5);
  message.reset(value, false);
  StageResult result = stage.process(message);
  CHECK(result.verdict == Verdict::DeadLetter);
  CHECK(result.reason == "invalid_json");
  CHECK(result.detail == "empty value");
}

TEST_CASE("framing: an unframed value, a short one and a wrong magic byte are invalid_framing",
          "[stages][parse][framing]") {
  ParseStage stage = confluent_parser();
  MessageContext message;

  message.reset(kEmail, false);  // plain JSON: first byte '{'
  StageResult unframed = stage.process(message);
  CHECK(unframed.verdict == Verdict::DeadLetter);
  CHECK(unframed.reason == "invalid_framing");
  CHECK(unframed.detail == "first byte 0x7b, not the Confluent wire-format magic byte 0x00");

  const std::string wrong_magic = std::string(1, '\x01') + framed(kEmail).substr(1);
  message.reset(wrong_magic, false);
  CHECK(stage.process(message).reason == "invalid_framing");

  const std::string four_bytes("\0\0\0\1", 4);
  message.reset(four_bytes, false);
  StageResult short_value = stage.process(message);
  CHECK(short_value.reason == "invalid_framing");
  CHECK(short_value.detail == "value of 4 bytes, shorter than the 5-byte Confluent wire-format header");

  message.reset("", false);
  CHECK(stage.process(message).reason == "invalid_framing");

  message.reset({}, true);  // a tombstone stays what it always was
  CHECK(stage.process(message).reason == "invalid_json");
}

TEST_CASE("framing: with value_framing none a framed value is not JSON, and the payload is the whole value",
          "[stages][parse][framing]") {
  ParseStage stage(64);
  MessageContext message;
  const std::string value = framed(kEmail);
  message.reset(value, false);
  CHECK(stage.process(message).reason == "invalid_json");
  message.reset(kEmail, false);
  REQUIRE(stage.process(message).verdict == Verdict::Continue);
  CHECK(message.payload.data() == message.value.data());
  CHECK(message.payload.size() == message.value.size());
}

TEST_CASE("framing: a framed record fingerprints as its JSON does unframed, whatever the schema id",
          "[stages][framing][fingerprint]") {
  fingerprint::Fingerprinter fingerprinter;
  // Large integers are printed from the raw text: the offsets must be the payload's.
  const std::string json = R"({"channel":"email","message_type":"email_received","n":123456789012345678901234567890,)"
                           R"("payload":{"body":"x"}})";
  ParseStage plain(64);
  MessageContext unframed;
  unframed.reset(json, false);
  REQUIRE(plain.process(unframed).verdict == Verdict::Continue);
  const std::string expected = fingerprinter.compute(unframed.document, unframed.payload).hex();

  ParseStage stage = confluent_parser();
  for (uint32_t id : {1u, 0xffffffffu}) {
    MessageContext message;
    const std::string value = framed(json, id);
    message.reset(value, false);
    REQUIRE(stage.process(message).verdict == Verdict::Continue);
    CHECK(fingerprinter.compute(message.document, message.payload).hex() == expected);
  }
}

TEST_CASE("framing: the whole chain checks the schema on the JSON after the header", "[stages][chain][framing]") {
  config::Config config;
  config.pipeline.max_json_depth = 64;
  config.pipeline.schemas_dir = SLUICE_SOURCE_DIR "/config/schemas";
  config.pipeline.value_framing = config::ValueFraming::Confluent;
  std::vector<std::string> errors;
  auto resources = load_stage_resources(config, errors);
  REQUIRE(resources);
  StageChain chain(config.pipeline, resources);

  auto run = [&chain](const std::string& value) {
    MessageContext message;
    message.reset(value, false);
    StageChain::Outcome outcome = chain.run(message);
    return std::make_pair(outcome.result, std::string(outcome.stage));
  };
  CHECK(run(framed(kEmail)).first.verdict == Verdict::Continue);
  auto [violation, violation_stage] = run(framed(R"({"channel":"email","message_type":"email_received"})"));
  CHECK(violation.reason == "schema_violation");
  CHECK(violation_stage == "schema");
  auto [unframed, unframed_stage] = run(kEmail);
  CHECK(unframed.reason == "invalid_framing");
  CHECK(unframed_stage == "parse");
}
