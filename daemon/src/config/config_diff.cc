#include "config/config_diff.h"

#include <string_view>

#include "config/key_table.h"

namespace sluice::config {
namespace {

// "routes[].http.url" → list "routes", rest ".http.url"; no "[]": the whole path is the rest.
struct ListPath {
  std::string_view list;
  std::string_view rest;
};

ListPath split_list_path(std::string_view path) {
  size_t brackets = path.find("[]");
  if (brackets == std::string_view::npos) return {{}, path};
  return {path.substr(0, brackets), path.substr(brackets + 2)};
}

const KeyRow* row_named(std::string_view path) {
  for (const KeyRow& row : key_table()) {
    if (row.path == path) return &row;
  }
  return nullptr;
}

}  // namespace

std::vector<std::string> changed_keys(const Config& before, const Config& after) {
  std::vector<std::string> changed;
  for (const KeyRow& row : key_table()) {
    if (row.type == KeyType::Object) continue;  // its keys are compared one by one
    if (row.type == KeyType::ObjectList) {
      if (row.bind.item_count(before) != row.bind.item_count(after)) changed.emplace_back(row.path);
      continue;
    }
    ListPath where = split_list_path(row.path);
    if (where.list.empty()) {
      if (row.bind.read(before, 0) != row.bind.read(after, 0)) changed.emplace_back(row.path);
      continue;
    }
    // Entries of a list are compared index by index while both configs have them; a change
    // of length is already reported by the list's own row.
    const KeyRow* list = row_named(where.list);
    if (list == nullptr || !list->bind.item_count) continue;
    size_t common = std::min(list->bind.item_count(before), list->bind.item_count(after));
    for (size_t item = 0; item < common; ++item) {
      if (row.bind.read(before, item) != row.bind.read(after, item)) {
        changed.push_back(std::string(where.list) + "[" + std::to_string(item) + "]" + std::string(where.rest));
      }
    }
  }
  return changed;
}

bool reloadable_key(const std::string& path) {
  return path == "pipeline.schemas_dir" || path == "pipeline.filter.blocked_senders_file" ||
         path == "pipeline.filter.spam_keywords";
}

}  // namespace sluice::config
