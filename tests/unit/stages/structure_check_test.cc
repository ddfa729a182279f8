#include <catch2/catch.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "devtools/message_mix.h"
#include "json/json_parser.h"
#include "stages/schema_prep.h"
#include "stages/structure_check.h"
#include "stages/valijson.h"
#include "support/process.h"

using namespace sluice;
using namespace sluice::stages;

namespace {

// One schema, both ways: the quick check and valijson, from the same prepared document (with
// `format` taken out, as compile_schema does).
class BothValidators {
 public:
  explicit BothValidators(const std::string& schema_text) {
    schema_document_.Parse(schema_text.data(), schema_text.size());
    REQUIRE_FALSE(schema_document_.HasParseError());
    PreparedSchema prepared = prepare_schema(schema_document_);
    REQUIRE(prepared.errors.empty());
    quick_ = StructureCheck::compile(schema_document_);
    valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
    parser.populateSchema(valijson::adapters::RapidJsonAdapter(schema_document_), valijson_schema_);
  }

  bool supported() const { return quick_.has_value(); }

  bool quick_accepts(const std::string& text) {
    REQUIRE(quick_);
    return quick_->accepts(parse(text));
  }

  bool valijson_accepts(const std::string& text) {
    return validator_.validate(valijson_schema_, valijson::adapters::RapidJsonAdapter(parse(text)), nullptr);
  }

 private:
  const json::Value& parse(const std::string& text) {
    json::ParseOutcome outcome = parser_.parse(text, document_);
    INFO(text);
    REQUIRE(outcome.ok);
    return document_.root();
  }

  json::Document schema_document_;
  std::optional<StructureCheck> quick_;
  valijson::Schema valijson_schema_;
  valijson::Validator validator_;
  json::JsonParser parser_{64};
  json::ParsedDocument document_;
};

std::string read_schema(const std::string& name) {
  return test::read_file(SLUICE_SOURCE_DIR "/config/schemas/" + name + ".json");
}

}  // namespace

TEST_CASE("the shipped schemas have a quick check that agrees with valijson on the realistic mix",
          "[stages][structure]") {
  BothValidators email(read_schema("email_received"));
  BothValidators whatsapp(read_schema("whatsapp_received"));
  REQUIRE(email.supported());
  REQUIRE(whatsapp.supported());

  devtools::MixOptions options;
  options.count = 3000;
  json::JsonParser parser(64);
  json::ParsedDocument document;
  int compared = 0;
  int accepted = 0;
  for (const devtools::MixRecord& entry : devtools::make_mix(options)) {
    if (!entry.record.value || !parser.parse(*entry.record.value, document).ok) continue;
    for (BothValidators* validators : {&email, &whatsapp}) {
      INFO(*entry.record.value);
      bool quick = validators->quick_accepts(*entry.record.value);
      // Exact agreement: these schemas use only supported keywords and no integers, so the
      // quick check is never unsure about them.
      CHECK(quick == validators->valijson_accepts(*entry.record.value));
      accepted += quick ? 1 : 0;
      ++compared;
    }
  }
  CHECK(compared > 4000);
  CHECK(accepted > 1000);
}

TEST_CASE("the quick check follows the supported keywords", "[stages][structure]") {
  BothValidators validators(R"({
    "type": "object",
    "required": ["kind", "items"],
    "additionalProperties": false,
    "properties": {
      "kind": {"enum": ["a", "b", null, true, 7]},
      "fixed": {"const": "x"},
      "count": {"type": "integer"},
      "either": {"type": ["string", "null"]},
      "items": {"type": "array", "items": {"type": "object", "required": ["id"]}},
      "never": false,
      "anything": true,
      "when": {"type": "string", "format": "date-time"}
    }
  })");
  REQUIRE(validators.supported());
  auto agree = [&](const std::string& document, bool expected) {
    INFO(document);
    CHECK(validators.quick_accepts(document) == expected);
    CHECK(validators.valijson_accepts(document) == expected);
  };
  agree(R"({"kind": "a", "items": []})", true);
  agree(R"({"kind": null, "items": [{"id": 1}, {"id": 2, "more": 3}]})", true);
  agree(R"({"kind": 7, "items": [], "count": -12, "either": null, "anything": [1, {}]})", true);
  agree(R"({"kind": true, "items": [], "fixed": "x", "either": "s"})", true);
  agree(R"({"kind": "c", "items": []})", false);                // not in the enum
  agree(R"({"kind": 8, "items": []})", false);                  // not in the enum
  agree(R"({"kind": "a"})", false);                             // required
  agree(R"({"kind": "a", "items": [{"no_id": 1}]})", false);    // required inside items
  agree(R"({"kind": "a", "items": {}})", false);                // type
  agree(R"({"kind": "a", "items": [], "fixed": "y"})", false);  // const
  agree(R"({"kind": "a", "items": [], "count": "1"})", false);  // type
  agree(R"({"kind": "a", "items": [], "either": 1})", false);   // type list
  agree(R"({"kind": "a", "items": [], "never": 1})", false);    // the schema false
  agree(R"({"kind": "a", "items": [], "extra": 1})", false);    // additionalProperties
  // Every duplicate member is checked, as valijson checks them.
  agree(R"({"kind": "a", "items": [], "fixed": "x", "fixed": "y"})", false);
  agree(R"({"kind": "a", "items": [], "fixed": "x", "fixed": {"a": 1}})", false);
  agree(R"({"kind": "a", "items": [], "fixed": {"a": 1}, "fixed": "x"})", false);
  agree(R"({"kind": "a", "items": [], "fixed": "x", "fixed": {"kind": "a", "items": []}})", false);
  // Formats are not the structure's business (the FormatPlan checks them afterwards).
  agree(R"({"kind": "a", "items": [], "when": "not a date"})", true);

  // Unsure, not a verdict: 1.0 may or may not be an integer, so valijson decides.
  CHECK_FALSE(validators.quick_accepts(R"({"kind": "a", "items": [], "count": 1.0})"));
}

TEST_CASE("required names are found whether or not they are properties, in any keyword order",
          "[stages][structure]") {
  // `required` before `properties`, a name required twice, one required name that is no
  // property, and properties without additionalProperties: false.
  BothValidators open(R"({"required": ["id", "id", "trace"], "properties": {"id": {"type": "string"}}})");
  REQUIRE(open.supported());
  auto agree = [](BothValidators& validators, const std::string& document, bool expected) {
    INFO(document);
    CHECK(validators.quick_accepts(document) == expected);
    CHECK(validators.valijson_accepts(document) == expected);
  };
  agree(open, R"({"id": "a", "trace": 1})", true);
  agree(open, R"({"trace": null, "other": 2, "id": "a"})", true);
  agree(open, R"({"id": "a"})", false);             // trace missing
  agree(open, R"({"trace": 1})", false);            // id missing
  agree(open, R"({"id": 1, "trace": 1})", false);   // id's type
  agree(open, R"({"ID": "a", "trace": 1})", false);  // names are case-sensitive
  agree(open, R"({"i": "a", "trace": 1, "idd": 2})", false);

  // Required but not a property, and nothing additional allowed: no document can pass.
  BothValidators closed(R"({"required": ["x"], "additionalProperties": false, "properties": {"y": {}}})");
  REQUIRE(closed.supported());
  agree(closed, R"({"x": 1})", false);
  agree(closed, R"({"y": 1})", false);
  agree(closed, R"({})", false);

  // Required alone, on an empty object and in a nested one.
  BothValidators nested(R"({"properties": {"inner": {"required": [""]}}})");
  REQUIRE(nested.supported());
  agree(nested, R"({"inner": {"": 0}})", true);
  agree(nested, R"({"inner": {}})", false);
  agree(nested, R"({"other": {}})", true);
}

TEST_CASE("up to 64 required names per object schema get a quick check", "[stages][structure]") {
  auto schema_requiring = [](int names) {
    std::string schema = R"({"required": [)";
    for (int i = 0; i < names; ++i) schema += (i > 0 ? ",\"n" : "\"n") + std::to_string(i) + "\"";
    return schema + "]}";
  };
  auto document_with = [](int names) {
    std::string document = "{";
    for (int i = 0; i < names; ++i) document += (i > 0 ? ",\"n" : "\"n") + std::to_string(i) + "\":0";
    return document + "}";
  };
  BothValidators sixty_four(schema_requiring(64));
  REQUIRE(sixty_four.supported());
  CHECK(sixty_four.quick_accepts(document_with(64)));
  CHECK_FALSE(sixty_four.quick_accepts(document_with(63)));
  CHECK_FALSE(sixty_four.valijson_accepts(document_with(63)));

  json::Document document;
  const std::string sixty_five = schema_requiring(65);
  document.Parse(sixty_five.data(), sixty_five.size());
  REQUIRE_FALSE(document.HasParseError());
  CHECK_FALSE(StructureCheck::compile(document).has_value());
}

TEST_CASE("a schema with any unsupported keyword or form has no quick check", "[stages][structure]") {
  const std::vector<std::string> unsupported = {
      R"({"properties": {"a": {"type": "string", "pattern": "^x"}}})",
      R"({"anyOf": [{"type": "string"}, {"type": "null"}]})",
      R"({"properties": {"a": {"$ref": "#/definitions/b"}}, "definitions": {"b": {}}})",
      R"({"additionalProperties": {"type": "string"}})",
      R"({"properties": {"a": {"minLength": 1}}})",
      R"({"items": [{"type": "string"}]})",
      R"({"const": {"a": 1}})",
      R"({"enum": [1.5]})",
      R"({"enum": []})",
      R"({"type": "text"})",
      R"({"type": []})",
      R"({"const": "a", "enum": ["a", "b"]})",
      R"({"type": "object", "type": "string"})",
      R"({"properties": {"a": {"type": "string"}, "a": {"type": "integer"}}})",
      R"({"required": "a"})",
  };
  for (const std::string& schema : unsupported) {
    INFO(schema);
    json::Document document;
    document.Parse(schema.data(), schema.size());
    REQUIRE_FALSE(document.HasParseError());
    CHECK_FALSE(StructureCheck::compile(document).has_value());
  }
  json::Document annotated;
  annotated.Parse(R"({"$schema": "http://json-schema.org/draft-07/schema#", "$id": "x", "title": "t",
                      "description": "d", "$comment": "c", "default": {}, "examples": [1],
                      "properties": {"a": {"readOnly": true, "writeOnly": false}}})");
  CHECK(StructureCheck::compile(annotated).has_value());
}
