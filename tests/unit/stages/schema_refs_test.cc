// `$ref`s in schemas: loops that would recurse forever and references that lead nowhere are
// load errors naming the file; recursive schemas that descend into the document still work.

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "stages/parse_stage.h"
#include "stages/schema_refs.h"
#include "stages/schema_registry.h"
#include "stages/schema_stage.h"
#include "support/process.h"
#include "support/temp_dir.h"

using namespace sluice;
using namespace sluice::stages;
using sluice::test::TempDir;
using sluice::test::write_file;

namespace {

// A schemas dir holding one file, t.json, loaded as the daemon loads it.
struct LoadedDir {
  TempDir dir;
  std::string file = dir.file("t.json");
  std::vector<std::string> errors;
  std::shared_ptr<const SchemaRegistry> registry;

  explicit LoadedDir(const std::string& schema_text) {
    write_file(file, schema_text);
    registry = load_schema_registry(dir.path(), errors);
  }
};

// What loading `schema_text` says: its one error without the file name in front, or, in
// brackets, anything else (it loaded, several errors, an error that does not name the file).
std::string load_error(const std::string& schema_text) {
  LoadedDir loaded(schema_text);
  if (loaded.registry != nullptr) return "(loaded)";
  if (loaded.errors.size() != 1) {
    std::string all = "(" + std::to_string(loaded.errors.size()) + " errors)";
    for (const std::string& error : loaded.errors) all += "\n" + error;
    return all;
  }
  const std::string prefix = loaded.file + ": ";
  if (loaded.errors[0].rfind(prefix, 0) != 0) return "(not naming the file) " + loaded.errors[0];
  return loaded.errors[0].substr(prefix.size());
}

// Parses like the chain does (nesting up to 64 deep), then runs the schema stage.
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

 private:
  std::string raw_;
  MessageContext message_;
  ParseStage parse_{64};
  SchemaStage schema_;
};

// {"message_type":"t","children":[{"children":[ ... leaf ... ]}]}: `leaf` inside `levels`
// objects with children, so nested 2 * levels + 1 deep for an object leaf.
std::string tree_document(int levels, const std::string& leaf) {
  std::string document = leaf;
  for (int i = 1; i < levels; ++i) document = R"({"children":[)" + document + "]}";
  return R"({"message_type":"t","children":[)" + document + "]}";
}

}  // namespace

TEST_CASE("a loop of $refs alone is a load error naming the file and the loop", "[stages][schema][refs]") {
  const std::string loop = ": reference loop that never descends into a property or an item: ";
  CHECK(load_error(R"({"$ref": "#"})") == "/$ref" + loop + "# -> #");
  CHECK(load_error(R"({"$ref": "#/"})") == "/$ref" + loop + "# -> #");
  CHECK(load_error(R"({"properties": {"a": {"$ref": "#/properties/a"}}})") ==
        "/properties/a/$ref" + loop + "#/properties/a -> #/properties/a");
  CHECK(load_error(R"({"$ref": "#/definitions/a",
                       "definitions": {"a": {"$ref": "#/definitions/b"}, "b": {"$ref": "#/definitions/a"}}})") ==
        "/definitions/b/$ref" + loop + "#/definitions/a -> #/definitions/b -> #/definitions/a");
  CHECK(load_error(R"({"type": "object", "properties": {"x": {"$ref": "#/definitions/a~1b"}},
                       "definitions": {"a/b": {"$ref": "#/definitions/c"}, "c": {"$ref": "#/definitions/a%2Fb"}}})") ==
        "/definitions/c/$ref" + loop + "#/definitions/a~1b -> #/definitions/c -> #/definitions/a~1b");
}

TEST_CASE("a loop through keywords that apply to the same value is a load error", "[stages][schema][refs]") {
  const std::string loop = ": reference loop that never descends into a property or an item: ";
  CHECK(load_error(R"({"allOf": [{"$ref": "#"}]})") == "/allOf/0/$ref" + loop + "# -> #/allOf/0 -> #");
  CHECK(load_error(R"({"anyOf": [{"type": "string"}, {"$ref": "#"}]})") ==
        "/anyOf/1/$ref" + loop + "# -> #/anyOf/1 -> #");
  CHECK(load_error(R"({"oneOf": [{"$ref": "#"}]})") == "/oneOf/0/$ref" + loop + "# -> #/oneOf/0 -> #");
  CHECK(load_error(R"({"not": {"$ref": "#"}})") == "/not/$ref" + loop + "# -> #/not -> #");
  CHECK(load_error(R"({"if": {"$ref": "#"}})") == "/if/$ref" + loop + "# -> #/if -> #");
  CHECK(load_error(R"({"if": true, "then": {"$ref": "#"}})") == "/then/$ref" + loop + "# -> #/then -> #");
  CHECK(load_error(R"({"if": false, "else": {"$ref": "#"}})") == "/else/$ref" + loop + "# -> #/else -> #");
  CHECK(load_error(R"({"dependencies": {"a": ["b"], "c": {"$ref": "#"}}})") ==
        "/dependencies/c/$ref" + loop + "# -> #/dependencies/c -> #");
  CHECK(load_error(R"({"properties": {"x": {"$ref": "#/definitions/a"}},
                       "definitions": {"a": {"allOf": [{"$ref": "#/definitions/b"}]},
                                       "b": {"anyOf": [{"type": "string"}, {"$ref": "#/definitions/a"}]}}})") ==
        "/definitions/b/anyOf/1/$ref" + loop +
            "#/definitions/a -> #/definitions/a/allOf/0 -> #/definitions/b -> #/definitions/b/anyOf/1 -> "
            "#/definitions/a");

  // Every loop is reported, each at the reference that closes it.
  LoadedDir two_loops(R"({"allOf": [{"$ref": "#"}, {"not": {"$ref": "#"}}]})");
  CHECK(two_loops.registry == nullptr);
  REQUIRE(two_loops.errors.size() == 2);
  CHECK(two_loops.errors[0] == two_loops.file + ": /allOf/0/$ref" + loop + "# -> #/allOf/0 -> #");
  CHECK(two_loops.errors[1] == two_loops.file + ": /allOf/1/not/$ref" + loop + "# -> #/allOf/1 -> #/allOf/1/not -> #");
}

TEST_CASE("recursive schemas that descend into the document load and validate as deep as it goes",
          "[stages][schema][refs]") {
  const std::vector<std::string> trees = {
      R"({"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#"}}}})",
      R"({"$ref": "#/definitions/node",
          "definitions": {"node": {"type": "object",
                                   "properties": {"children": {"type": "array", "items": {"$ref": "#/definitions/alias"}}}},
                          "alias": {"$ref": "#/definitions/node"}}})",
      R"({"type": "object",
          "properties": {"children": {"type": "array", "items": {"anyOf": [{"type": "null"}, {"$ref": "#"}]}}}})",
      R"({"type": "object", "additionalProperties": {"$ref": "#/unused/items/0"},
          "properties": {"message_type": {"type": "string"}},
          "unused": {"items": [{"type": "array", "items": {"$ref": "#"}}]}})",
  };
  for (const std::string& schema : trees) {
    INFO(schema);
    LoadedDir loaded(schema);
    INFO((loaded.errors.empty() ? std::string() : loaded.errors.front()));
    REQUIRE(loaded.registry != nullptr);
    SchemaHarness harness(loaded.registry);
    CHECK(harness.run(tree_document(31, "{}")).verdict == Verdict::Continue);
    StageResult bad = harness.run(tree_document(3, R"({"children": 5})"));
    CHECK(bad.verdict == Verdict::DeadLetter);
    CHECK(bad.reason == "schema_violation");
    CHECK(bad.detail.rfind("children[0]", 0) == 0);  // how deep depends on what valijson reports first
  }
}

TEST_CASE("references into other documents or to nothing are load errors", "[stages][schema][refs]") {
  const std::string elsewhere = "points into another document; only references within the file ('#/...') are supported";
  // At the root valijson resolves these against the file itself: the first would be a loop,
  // the second would quietly mean "#/definitions/a".
  CHECK(load_error(R"({"$ref": "other.json"})") == "/$ref: 'other.json' " + elsewhere);
  CHECK(load_error(R"({"$ref": "other.json#/definitions/a", "definitions": {"a": {"type": "string"}}})") ==
        "/$ref: 'other.json#/definitions/a' " + elsewhere);
  CHECK(load_error(R"({"properties": {"a": {"$ref": "http://example.com/other.json#/x"}}})") ==
        "/properties/a/$ref: 'http://example.com/other.json#/x' " + elsewhere);

  CHECK(load_error(R"({"properties": {"a": {"$ref": "#/definitions/missing"}}, "definitions": {}})") ==
        "/properties/a/$ref: '#/definitions/missing' points to nothing: /definitions has no member 'missing'");
  CHECK(load_error(R"({"$ref": "#/definitions/a"})") ==
        "/$ref: '#/definitions/a' points to nothing: the root has no member 'definitions'");
  CHECK(load_error(R"({"items": {"$ref": "#/allOf/2"}, "allOf": [{}, {}]})") ==
        "/items/$ref: '#/allOf/2' points to nothing: /allOf has no element '2'");
  CHECK(load_error(R"({"not": {"$ref": "#/type/x"}, "type": "object"})") ==
        "/not/$ref: '#/type/x' points to nothing: /type is neither an object nor an array");
  CHECK(load_error(R"({"not": {"$ref": "#definitions"}})") ==
        "/not/$ref: '#definitions' is not a JSON pointer (write '#' or '#/...')");
  CHECK(load_error(R"({"not": {"$ref": "#/a%zz"}})") ==
        "/not/$ref: '#/a%zz' is not a JSON pointer: bad %-escape in 'a%zz'");

  // Only what is applied counts, as in valijson: an unused definition is not followed.
  LoadedDir unused(
      R"({"type": "object", "definitions": {"a": {"$ref": "other.json#/a"}, "b": {"$ref": "#/definitions/b"}}})");
  CHECK(unused.registry != nullptr);
  CHECK(unused.errors.empty());
}

TEST_CASE("schemas nested or chained too deeply are load errors, not a stack overflow", "[stages][schema][refs]") {
  // Each definition refers to the next through a property: valijson's parser recursed once per
  // link and overflowed the stack with a few thousand.
  std::string through_properties = R"({"$ref": "#/definitions/d0", "definitions": {)";
  // Each one applies the next to the same value: the validator would recurse through all of them.
  std::string same_value = R"({"properties": {"message_type": {"$ref": "#/definitions/d0"}}, "definitions": {)";
  const int links = 5000;
  for (int i = 0; i < links; ++i) {
    const std::string next = "#/definitions/d" + std::to_string(i + 1);
    through_properties += "\"d" + std::to_string(i) + R"(": {"properties": {"x": {"$ref": ")" + next + "\"}}},";
    same_value += "\"d" + std::to_string(i) + R"(": {"allOf": [{"$ref": ")" + next + "\"}]},";
  }
  through_properties += "\"d" + std::to_string(links) + R"(": {"type": "string"}}})";
  same_value += "\"d" + std::to_string(links) + R"(": {"type": "string"}}})";
  // Plain nesting: the format pass walked it recursively.
  std::string nested;
  for (int i = 0; i < 20000; ++i) nested += R"({"not": )";
  nested += "{}" + std::string(20000, '}');

  const std::string too_deep = " nested more than " + std::to_string(kMaxSchemaNesting) + " levels deep";
  for (const std::string* schema : {&through_properties, &same_value, &nested}) {
    std::string error = load_error(*schema);
    CHECK(error.find(": subschemas and references" + too_deep) != std::string::npos);
  }
  // Inside a definition nothing refers to, only the format pass walks the nesting.
  std::string error = load_error(R"({"definitions": {"a": )" + nested + "}}");
  CHECK(error.rfind("/definitions/a/not/not/", 0) == 0);
  CHECK(error.find(": subschemas" + too_deep) != std::string::npos);

  // A long but reasonable chain loads.
  std::string reasonable = R"({"$ref": "#/definitions/d0", "definitions": {)";
  for (int i = 0; i < 100; ++i) {
    reasonable += "\"d" + std::to_string(i) + R"(": {"properties": {"x": {"$ref": "#/definitions/d)" +
                  std::to_string(i + 1) + "\"}}},";
  }
  reasonable += R"("d100": {"type": "string"}}})";
  LoadedDir loaded(reasonable);
  INFO((loaded.errors.empty() ? std::string() : loaded.errors.front()));
  CHECK(loaded.registry != nullptr);
}
