#pragma once
// Text helpers of the loader (loader.cc): how keys, values and expectations are spelt in
// error messages, the "did you mean" distance, and where YAML documents start. Internal to
// config/.

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "config/key_table.h"

namespace sluice::config::detail {

// "parent.name", or "name" at the top.
std::string join(std::string_view parent, std::string_view name);
std::string quoted(std::string_view text);
// A key as it stands in a key path: as written when it is a plain name, otherwise quoted and
// escaped.
std::string key_in_path(std::string_view name);
std::string join_list(const std::vector<std::string>& items);
// Optimal string alignment distance (insertions, deletions, substitutions, swaps of two
// neighbours).
size_t edit_distance(std::string_view a, std::string_view b);
// "a map", "a list", "the value \"x\"", "nothing".
std::string describe(const YAML::Node& node);
// What a row's value should look like: "a duration such as 10s", "one of: a, b".
std::string expected(const KeyRow& row);
// "1..10", or "1s..24h" for durations.
std::string format_range(const KeyRow& row);
// Where each of the first `limit` documents of `yaml` has its root node. Throws
// YAML::Exception on a syntax error in them.
std::vector<YAML::Mark> document_marks(std::string_view yaml, size_t limit);

}  // namespace sluice::config::detail
