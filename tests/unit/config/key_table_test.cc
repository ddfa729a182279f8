#include "config/key_table.h"

#include <catch2/catch.hpp>
#include <yaml-cpp/yaml.h>

#include <map>
#include <set>
#include <string>

namespace sluice::config {
namespace {

// The parent row of `row`, found through its path ("routes[]" names the list `routes`).
const KeyRow* parent_row(const KeyTable& table, const KeyRow& row) {
  std::string_view parent = row.parent();
  if (parent.ends_with("[]")) parent.remove_suffix(2);
  for (const KeyRow& candidate : table) {
    if (candidate.path == parent) return &candidate;
  }
  return nullptr;
}

bool is_snake_case(std::string_view name) {
  if (name.empty() || !(name.front() >= 'a' && name.front() <= 'z')) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

TEST_CASE("every row's path is unique, snake_case, and below an object row listed before it", "[config][table]") {
  const KeyTable& table = key_table();
  std::set<std::string_view> seen;
  for (const KeyRow& row : table) {
    INFO(row.path);
    CHECK(seen.insert(row.path).second);
    CHECK(is_snake_case(row.name()));
    if (row.parent().empty()) continue;
    const KeyRow* parent = parent_row(table, row);
    REQUIRE(parent != nullptr);
    CHECK(seen.count(parent->path) == 1);
    if (row.parent().ends_with("[]")) {
      CHECK(parent->type == KeyType::ObjectList);
    } else {
      CHECK((parent->type == KeyType::Object || parent->type == KeyType::ObjectList) == true);
      if (parent->type == KeyType::ObjectList) FAIL("keys of list entries are written as list[].key");
    }
  }
}

TEST_CASE("every row is complete for its type", "[config][table]") {
  for (const KeyRow& row : key_table()) {
    INFO(row.path);
    CHECK_FALSE(row.doc.empty());
    CHECK(row.doc.find('\n') == std::string_view::npos);
    if (row.flags.required) CHECK(row.default_text.empty());
    switch (row.type) {
      case KeyType::Object:
        CHECK_FALSE(row.bind.store);
        break;
      case KeyType::ObjectList:
        CHECK(row.bind.append_item);
        CHECK(row.bind.item_count);
        CHECK(row.path.find("[]") == std::string_view::npos);  // one level of lists is supported
        break;
      default:
        CHECK(row.bind.store);
        CHECK(row.bind.read);
        break;
    }
    if (row.type == KeyType::Int || row.type == KeyType::Duration) {
      CHECK(row.min <= row.max);
      CHECK(row.min != std::numeric_limits<int64_t>::min());  // every number here has a documented range
    }
    if (row.type == KeyType::Enum) CHECK(row.allowed.size() >= 2);
    if (row.flags.secret_entries) CHECK(row.type == KeyType::StringMap);
    if (row.flags.topic_name) CHECK((row.type == KeyType::String || row.type == KeyType::StringList) == true);
  }
}

TEST_CASE("every default is valid YAML", "[config][table]") {
  for (const KeyRow& row : key_table()) {
    if (row.default_text.empty()) continue;
    INFO(row.path << " = " << row.default_text);
    CHECK_NOTHROW(YAML::Load(std::string(row.default_text)));
  }
}

TEST_CASE("row helpers split the path", "[config][table]") {
  KeyRow row{.path = "routes[].match.channel"};
  CHECK(row.name() == "channel");
  CHECK(row.parent() == "routes[].match");
  KeyRow entry_key{.path = "routes[].topic"};
  CHECK(entry_key.parent() == "routes[]");
  KeyRow top{.path = "kafka"};
  CHECK(top.name() == "kafka");
  CHECK(top.parent().empty());
}

}  // namespace
}  // namespace sluice::config
