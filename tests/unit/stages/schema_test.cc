#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "stages/parse_stage.h"
#include "stages/schema_prep.h"
#include "stages/schema_registry.h"
#include "stages/schema_stage.h"

using namespace sluice;
using namespace sluice::stages;

namespace {

const std::string kSchemasDir = SLUICE_SOURCE_DIR "/config/schemas";

std::string email_message(const std::string& from = "alice.sender@example.com",
                          const std::string& timestamp = "2024-09-18T14:32:05Z") {
  return R"({"channel":"email","message_type":"email_received","payload":{"from_email":")" + from +
         R"(","to_email":"bob.recipient@example.org","subject":"Q3 report","body":"Hi Bob","timestamp":")" +
         timestamp + R"("}})";
}

std::shared_ptr<const SchemaRegistry> shipped_registry() {
  std::vector<std::string> errors;
  auto registry = load_schema_registry(kSchemasDir, errors);
  INFO((errors.empty() ? std::string() : errors.front()));
  REQUIRE(registry);
  return registry;
}

std::shared_ptr<const SchemaRegistry> registry_of(const std::string& message_type, const std::string& schema_text) {
  std::vector<std::string> errors;
  std::vector<std::string> warnings;
  std::vector<std::unique_ptr<const CompiledSchema>> schemas;
  schemas.push_back(compile_schema(schema_text, message_type, message_type + ".json", errors, warnings));
  INFO((errors.empty() ? std::string() : errors.front()));
  REQUIRE(schemas.back());
  return std::make_shared<const SchemaRegistry>(std::move(schemas));
}

// Parses like the chain does, then runs the schema stage.
class SchemaHarness {
 public:
  explicit SchemaHarness(std::shared_ptr<const SchemaRegistry> registry) : schema_(std::move(registry)) {}

  StageResult run(const std::string& value) {
    raw_ = value;
    message_.reset(raw_, false);
    StageResult parsed = parse_.process(message_);
    REQUIRE(parsed.verdict == Verdict::Continue);
    return schema_.process(message_);
  }

  SchemaStage& stage() { return schema_; }

 private:
  std::string raw_;
  MessageContext message_;
  ParseStage parse_{64};
  SchemaStage schema_;
};

std::string to_json(const json::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return buffer.GetString();
}

}  // namespace

TEST_CASE("the shipped schemas load and accept valid messages", "[stages][schema]") {
  auto registry = shipped_registry();
  CHECK(registry->message_types() == std::vector<std::string>{"email_received", "whatsapp_received"});
  SchemaHarness harness(registry);
  CHECK(harness.run(email_message()).verdict == Verdict::Continue);
  CHECK(harness.run(R"({"channel":"whatsapp","message_type":"whatsapp_received","payload":{"sender_id":"15551234567",)"
                    R"("recipient_id":"15557654321","message_text":"hello","timestamp":"2024-09-18T14:32:05+02:00"}})")
            .verdict == Verdict::Continue);
}

TEST_CASE("an invalid email address is a schema violation naming its path", "[stages][schema]") {
  SchemaHarness harness(shipped_registry());
  StageResult result = harness.run(email_message("not-an-email"));
  CHECK(result.verdict == Verdict::DeadLetter);
  CHECK(result.reason == "schema_violation");
  CHECK(result.detail == "payload.from_email: not a valid email");
}

TEST_CASE("an impossible or malformed timestamp is a schema violation", "[stages][schema]") {
  SchemaHarness harness(shipped_registry());
  for (const char* timestamp : {"2024-02-31T10:00:00Z", "yesterday"}) {
    StageResult result = harness.run(email_message("a@example.com", timestamp));
    CHECK(result.reason == "schema_violation");
    CHECK(result.detail == "payload.timestamp: not a valid date-time");
  }
  CHECK(harness.run(email_message("a@example.com", "2024-02-29T10:00:00.25-05:00")).verdict == Verdict::Continue);
}

TEST_CASE("structural violations name the failing path", "[stages][schema]") {
  SchemaHarness harness(shipped_registry());

  StageResult missing = harness.run(
      R"({"channel":"email","message_type":"email_received","payload":{"from_email":"a@example.com",)"
      R"("to_email":"b@example.com","body":"x","timestamp":"2024-09-18T14:32:05Z"}})");
  CHECK(missing.reason == "schema_violation");
  CHECK(missing.detail == "payload: missing required property 'subject'");

  StageResult wrong_type = harness.run(
      R"({"channel":"email","message_type":"email_received","payload":{"from_email":"a@example.com",)"
      R"("to_email":"b@example.com","subject":42,"body":"x","timestamp":"2024-09-18T14:32:05Z"}})");
  CHECK(wrong_type.reason == "schema_violation");
  CHECK(wrong_type.detail.rfind("payload.subject: ", 0) == 0);

  StageResult wrong_channel = harness.run(
      R"({"channel":"sms","message_type":"email_received","payload":{"from_email":"a@example.com",)"
      R"("to_email":"b@example.com","subject":"s","body":"x","timestamp":"2024-09-18T14:32:05Z"}})");
  CHECK(wrong_channel.reason == "schema_violation");
  CHECK(wrong_channel.detail.rfind("channel: ", 0) == 0);
  CHECK(wrong_channel.detail.find("const") != std::string::npos);

  StageResult no_payload = harness.run(R"({"channel":"email","message_type":"email_received"})");
  CHECK(no_payload.detail == "(root): missing required property 'payload'");
}

TEST_CASE("a missing or unknown message type has its own reason", "[stages][schema]") {
  SchemaHarness harness(shipped_registry());
  StageResult unknown = harness.run(R"({"channel":"sms","message_type":"sms_received","payload":{}})");
  CHECK(unknown.verdict == Verdict::DeadLetter);
  CHECK(unknown.reason == "unknown_message_type");
  CHECK(unknown.detail == "no schema for message_type 'sms_received'");

  StageResult missing = harness.run(R"({"channel":"email","payload":{}})");
  CHECK(missing.reason == "unknown_message_type");
  StageResult not_string = harness.run(R"({"channel":"email","message_type":7,"payload":{}})");
  CHECK(not_string.reason == "unknown_message_type");

  StageResult long_type = harness.run(R"({"message_type":")" + std::string(500, 'x') + R"("})");
  CHECK(long_type.reason == "unknown_message_type");
  CHECK(long_type.detail.size() < 120);  // message data in a detail is cut short
}

TEST_CASE("formats are checked under items, additionalProperties and allOf", "[stages][schema]") {
  auto registry = registry_of("t", R"({
    "type": "object",
    "properties": {
      "recipients": {"type": "array", "items": {"type": "string", "format": "email"}},
      "pair": {"type": "array", "items": [{"format": "date"}, {"format": "uuid"}]},
      "labels": {"type": "object", "properties": {"fixed": {"type": "string"}},
                 "additionalProperties": {"format": "ipv4"}},
      "when": {"allOf": [{"type": "string"}, {"format": "time"}]}
    }
  })");
  SchemaHarness harness(registry);
  CHECK(harness.run(R"({"message_type":"t","recipients":["a@example.com","b@example.com"],"pair":["2024-01-31","9b2f6c1e-3d4a-4b8e-9f21-7c5d2a1e8b90"],)"
                    R"("labels":{"fixed":"not an ip","x":"10.0.0.1"},"when":"10:00:00Z"})")
            .verdict == Verdict::Continue);
  CHECK(harness.run(R"({"message_type":"t","recipients":["a@example.com","nope"]})").detail == "recipients[1]: not a valid email");
  CHECK(harness.run(R"({"message_type":"t","pair":["2024-01-31","nope"]})").detail == "pair[1]: not a valid uuid");
  CHECK(harness.run(R"({"message_type":"t","labels":{"fixed":"x","gateway":"10.0.0.300"}})").detail ==
        "labels.gateway: not a valid ipv4");
  CHECK(harness.run(R"({"message_type":"t","when":"10:00"})").detail == "when: not a valid time");
  // A format constrains strings only; a number passes it (and this schema sets no type).
  CHECK(harness.run(R"({"message_type":"t","pair":[20240131]})").verdict == Verdict::Continue);
}

TEST_CASE("a repeated member with different values is refused, whichever copy is the valid one", "[stages][schema]") {
  SchemaHarness harness(shipped_registry());
  for (const auto& [first, last] : {std::pair{"a@example.com", "not-an-email"}, std::pair{"not-an-email", "a@example.com"}}) {
    std::string message = std::string(R"({"channel":"email","message_type":"email_received","payload":{"from_email":")") +
                          first + R"(","from_email":")" + last +
                          R"(","to_email":"b@example.com","subject":"s","body":"x","timestamp":"2024-09-18T14:32:05Z"}})";
    INFO(message);
    auto result = harness.run(message);
    CHECK(result.verdict == Verdict::DeadLetter);
    CHECK(result.detail.rfind("duplicate key 'from_email' with different values", 0) == 0);
  }
  // The same in an object of many members (looked up by hash rather than pairwise).
  std::string many;
  for (int i = 0; i < 40; ++i) many += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  const std::string large_prefix = R"({"channel":"email","message_type":"email_received","payload":{)" + many;
  const std::string large_suffix = R"("to_email":"b@example.com","subject":"s","body":"x","timestamp":"2024-09-18T14:32:05Z"}})";
  auto large = harness.run(large_prefix + R"("from_email":"a@example.com","k7":8,)" + large_suffix);
  CHECK(large.verdict == Verdict::DeadLetter);
  CHECK(large.detail.rfind("duplicate key 'k7' with different values", 0) == 0);
  CHECK(harness.run(large_prefix + R"("from_email":"a@example.com","k7":7,)" + large_suffix).verdict == Verdict::Continue);
  // Copies that agree are one value: the record passes.
  std::string agreeing =
      R"({"channel":"email","message_type":"email_received","payload":{"from_email":"a@example.com",)"
      R"("from_email":"a@example.com","to_email":"b@example.com","subject":"s","body":"x",)"
      R"("timestamp":"2024-09-18T14:32:05Z"}})";
  CHECK(harness.run(agreeing).verdict == Verdict::Continue);
}

TEST_CASE("valijson violation paths tell array indices from member names", "[stages][schema]") {
  auto registry = registry_of("t", R"({
    "type": "object",
    "properties": {
      "list": {"type": "array", "items": {"type": "object", "required": ["id"]}},
      "map": {"type": "object", "properties": {"0": {"type": "integer"}}}
    }
  })");
  SchemaHarness harness(registry);
  CHECK(harness.run(R"({"message_type":"t","list":[{"id":1},{}]})").detail == "list[1]: missing required property 'id'");
  CHECK(harness.run(R"({"message_type":"t","map":{"0":"zero"}})").detail.rfind("map.0: ", 0) == 0);
}

TEST_CASE("preparing a schema removes formats only where they are keywords", "[stages][schema]") {
  json::Document schema;
  schema.Parse(R"({
    "properties": {
      "format": {"type": "string", "format": "email"},
      "fixed": {"const": {"format": "kept"}},
      "choice": {"anyOf": [{"format": "date-time"}, {"format": "hostname"}]},
      "other": {"format": "hostname"}
    },
    "definitions": {"d": {"format": "uuid"}},
    "format": "date"
  })");
  REQUIRE_FALSE(schema.HasParseError());
  PreparedSchema prepared = prepare_schema(schema);
  CHECK(prepared.errors.empty());
  CHECK(to_json(schema) ==
        R"({"properties":{"format":{"type":"string"},"fixed":{"const":{"format":"kept"}},)"
        R"("choice":{"anyOf":[{},{}]},"other":{}},"definitions":{"d":{}}})");
  CHECK_FALSE(prepared.formats.empty());

  // Unknown "hostname" is reported once; formats under anyOf and definitions are not asserted.
  size_t unknown = 0;
  size_t unasserted = 0;
  for (const std::string& warning : prepared.warnings) {
    if (warning.find("unknown format 'hostname'") != std::string::npos) ++unknown;
    if (warning.find("is not asserted here") != std::string::npos) ++unasserted;
  }
  CHECK(unknown == 1);
  CHECK(unasserted == 2);
  CHECK(std::find_if(prepared.warnings.begin(), prepared.warnings.end(), [](const std::string& w) {
          return w.rfind("/properties/choice/anyOf/0/format: ", 0) == 0;
        }) != prepared.warnings.end());
}

TEST_CASE("schema compile errors: bad JSON with position, bad regex, rejected by valijson", "[stages][schema]") {
  std::vector<std::string> errors;
  std::vector<std::string> warnings;
  CHECK(compile_schema("{\n  \"type\": \"object\",\n  \"required\": [\"a\",]\n}", "t", "t.json", errors, warnings) ==
        nullptr);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].rfind("t.json:3:", 0) == 0);
  CHECK(errors[0].find("not valid JSON") != std::string::npos);

  errors.clear();
  CHECK(compile_schema(R"({"properties":{"code":{"pattern":"([a-z"}}})", "t", "t.json", errors, warnings) == nullptr);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].rfind("t.json: /properties/code/pattern: not a valid regular expression", 0) == 0);

  errors.clear();
  CHECK(compile_schema(R"({"type": 5})", "t", "t.json", errors, warnings) == nullptr);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].rfind("t.json: schema not accepted by the validator: ", 0) == 0);

  errors.clear();
  CHECK(compile_schema(R"({"$ref": "http://example.com/other.json"})", "t", "t.json", errors, warnings) == nullptr);
  CHECK(errors.size() == 1);

  errors.clear();
  CHECK(compile_schema("  [1, 2]", "t", "t.json", errors, warnings) == nullptr);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0] == "t.json:1:3: a schema must be a JSON object");
}

TEST_CASE("position_of counts lines and UTF-8 characters from 1", "[stages][schema]") {
  std::string text = "ab\n\xc3\xa9x\ny";
  CHECK(position_of(text, 0).line == 1);
  CHECK(position_of(text, 0).column == 1);
  CHECK(position_of(text, 3).line == 2);
  CHECK(position_of(text, 3).column == 1);
  CHECK(position_of(text, 5).column == 2);  // after the two bytes of "é"
  CHECK(position_of(text, 7).line == 3);
  CHECK(position_of(text, 100).line == 3);  // clamped to the end
}

TEST_CASE("swapping the registry changes what the stage accepts", "[stages][schema]") {
  SchemaHarness harness(registry_of("t", R"({"required": ["a"]})"));
  CHECK(harness.run(R"({"message_type":"t"})").reason == "schema_violation");
  harness.stage().set_registry(registry_of("t", R"({"type": "object"})"));
  CHECK(harness.run(R"({"message_type":"t"})").verdict == Verdict::Continue);
}
