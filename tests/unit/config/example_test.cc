#include <catch2/catch.hpp>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>
#include <string>

#include "config/key_table.h"
#include "config/loader.h"
#include "config/reference.h"

namespace sluice::config {
namespace {

using Errors = std::vector<std::string>;

const EnvLookup kNoEnv = [](std::string_view) -> std::optional<std::string> { return std::nullopt; };

const std::string kExamplePath = std::string(SLUICE_SOURCE_DIR) + "/config/sluice.yaml";

// True when the parsed document has a value at `path`; for keys under a list ("routes[].x")
// any entry of the list counts.
bool present(const YAML::Node& node, std::string_view path) {
  if (path.empty()) return true;
  size_t dot = path.find('.');
  std::string_view segment = path.substr(0, dot);
  std::string_view rest = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
  if (segment.ends_with("[]")) {
    YAML::Node list = node[std::string(segment.substr(0, segment.size() - 2))];
    if (!list.IsSequence()) return false;
    for (const YAML::Node& entry : list) {
      if (present(entry, rest)) return true;
    }
    return false;
  }
  if (!node.IsMap()) return false;
  YAML::Node child = node[std::string(segment)];
  return child.IsDefined() && present(child, rest);
}

// True when some comment line of `text` contains `needle`.
bool in_comment(const std::string& text, const std::string& needle) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    size_t hash = line.find('#');
    if (hash != std::string::npos && line.find(needle, hash) != std::string::npos) return true;
  }
  return false;
}

TEST_CASE("config/sluice.yaml loads without errors", "[config][example]") {
  LoadResult result = load_file(kExamplePath, kNoEnv);
  REQUIRE(result.errors == Errors{});
  CHECK(result.config->routes.size() == 2);
}

TEST_CASE("config/sluice.yaml sets every key to its default", "[config][example]") {
  LoadResult example = load_file(kExamplePath, kNoEnv);
  // The file's relative paths resolve against config/, the embedded defaults' against the
  // working directory: from the repository root both name the same files.
  LoadResult defaults = load_defaults(kNoEnv, LoadOptions{.base_dir = SLUICE_SOURCE_DIR, .checks = {}});
  REQUIRE(example.ok());
  REQUIRE(defaults.ok());
  CHECK(render_effective_yaml(*example.config) == render_effective_yaml(*defaults.config));
}

TEST_CASE("config/sluice.yaml shows every key of the table", "[config][example]") {
  std::ifstream in(kExamplePath);
  std::stringstream text;
  text << in.rdbuf();
  YAML::Node document = YAML::Load(text.str());
  for (const KeyRow& row : key_table()) {
    INFO(row.path);
    if (present(document, row.path)) continue;
    // Optional keys without a default cannot be set without changing behaviour, and keys of
    // list entries (routes[].x) exist only per entry; they must at least appear in a
    // commented example.
    bool optional = (row.default_text.empty() && !row.flags.required) || row.path.find("[]") != std::string_view::npos;
    CHECK(optional);
    CHECK(in_comment(text.str(), std::string(row.name()) + ":"));
  }
}

}  // namespace
}  // namespace sluice::config
