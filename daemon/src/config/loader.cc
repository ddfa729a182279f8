#include "config/loader.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <tuple>
#include <unordered_map>

#include "common/assert.h"
#include "common/text.h"
#include "common/text_file.h"
#include "config/config_files.h"
#include "config/loader_text.h"
#include "config/route_errors.h"
#include "config/validate.h"

namespace sluice::config {
namespace {

using namespace detail;

constexpr std::string_view kTopLevel = "(top level)";
constexpr std::string_view kDurationForms = "write a number and a unit (ms, s, m, h, d), e.g. 500ms, 10s, 5m, 24h or 1h30m";

struct Place {
  int line = 1;  // 1-based
  int column = 1;
};

// Where values come from: the file, or a row's default text. Defaults have no position of
// their own, so everything in them is reported at `at` (the enclosing map in the file).
struct Origin {
  std::optional<Place> at;
  std::string_view default_text;

  bool is_default() const { return at.has_value(); }
};

// The key table arranged for loading: the rows under each parent, and each default already
// parsed. Building it costs more than loading a small file, so the daemon's table is indexed
// once per thread (see index_of_key_table).
struct TableIndex {
  explicit TableIndex(const KeyTable& table) {
    for (const KeyRow& row : table) {
      children[row.parent()].push_back(&row);
      if (row.default_text.empty()) continue;
      try {
        defaults.emplace(&row, YAML::Load(std::string(row.default_text)));
      } catch (const YAML::Exception&) {
        SLUICE_ASSERT(false, "a default in the key table is not valid YAML");
      }
    }
  }

  std::map<std::string_view, std::vector<const KeyRow*>, std::less<>> children;
  std::unordered_map<const KeyRow*, YAML::Node> defaults;
};

// Per thread, because yaml-cpp does not promise that reading one node from several threads at
// once is safe. Config loads run on the main thread (start-up, SIGHUP) and in tests.
const TableIndex& index_of_key_table() {
  thread_local const TableIndex index(key_table());
  return index;
}

class Loader {
 public:
  Loader(const TableIndex& index, std::string_view source, const EnvLookup& env, const LoadOptions& options)
      : source_(source), env_(env), options_(options), children_(index.children), defaults_(index.defaults) {}

  LoadResult run(std::string_view yaml, std::string source_path) {
    config_.source_path = std::move(source_path);
    // Not YAML::LoadAll: on a stray ',' outside [...] or {...}, yaml-cpp 0.7 yields an empty
    // document without consuming the comma, again and again, and LoadAll never returns (it
    // allocates until the process dies). So the documents are counted first, stopping at the
    // second, and only the first is built.
    YAML::Node root;
    try {
      std::vector<YAML::Mark> documents = document_marks(yaml, 2);
      if (documents.size() > 1) {
        const YAML::Mark& second = documents[1];
        auto at = static_cast<size_t>(std::max(second.pos, 0));
        bool stray_comma = at < yaml.size() && yaml[at] == ',';
        return syntax_error(second, stray_comma ? "unexpected ','"
                                                : "a config file holds one document; a second one starts here");
      }
      root = YAML::Load(std::string(yaml));
    } catch (const YAML::Exception& e) {
      return syntax_error(e.mark, e.msg);
    }
    Place root_place;
    if (root.IsDefined() && !root.IsNull() && !root.IsMap()) {
      fail(place_of(root, {}), "", "expected a map of sections, found " + describe(root));
    } else {
      walk_map(root, "", "", 0, root_place, {});
    }
    resolve_kafka_file_properties(config_.kafka, options_.base_dir);
    check_across_keys();

    LoadResult result;
    std::stable_sort(errors_.begin(), errors_.end(), [](const Error& a, const Error& b) {
      return std::tie(a.place.line, a.place.column) < std::tie(b.place.line, b.place.column);
    });
    for (Error& error : errors_) result.errors.push_back(std::move(error.text));
    if (result.errors.empty()) result.config = std::make_shared<const Config>(std::move(config_));
    return result;
  }

 private:
  struct Error {
    Place place;
    std::string text;
  };
  struct Written {
    Place place;
    bool from_default = false;
  };

  LoadResult syntax_error(const YAML::Mark& mark, const std::string& message) {
    Place place{std::max(mark.line, 0) + 1, std::max(mark.column, 0) + 1};
    LoadResult result;
    result.errors.push_back(prefix(place) + "yaml: " + message);
    return result;
  }

  std::string prefix(Place place) const {
    return source_ + ":" + std::to_string(place.line) + ":" + std::to_string(place.column) + ": ";
  }

  void fail(Place place, const std::string& path, std::string message, const Origin& origin = {}) {
    if (origin.is_default()) message += " (in the default " + quoted(origin.default_text) + ")";
    errors_.push_back({place, prefix(place) + (path.empty() ? std::string(kTopLevel) : path) + ": " + message});
    failed_paths_.insert(path);
  }

  static Place place_of(const YAML::Node& node, const Origin& origin) {
    if (origin.at) return *origin.at;
    const YAML::Mark mark = node.Mark();
    if (mark.line < 0) return Place{};
    return Place{mark.line + 1, mark.column + 1};
  }

  void remember(const std::string& path, Place place, const Origin& origin) {
    written_[path] = Written{place, origin.is_default()};
  }

  const KeyRow* find_child(std::string_view pattern, std::string_view name) const {
    auto it = children_.find(pattern);
    if (it == children_.end()) return nullptr;
    for (const KeyRow* row : it->second) {
      if (row->name() == name) return row;
    }
    return nullptr;
  }

  std::string unknown_key_message(std::string_view pattern, std::string_view concrete, std::string_view name) const {
    std::string message = "unknown key";
    auto it = children_.find(pattern);
    if (it == children_.end()) return message;
    const KeyRow* best = nullptr;
    size_t best_distance = 3;
    std::vector<std::string> known;
    for (const KeyRow* row : it->second) {
      known.emplace_back(row->name());
      // The distance is at least the difference in length; skipping those keeps a long
      // mistyped key (or a paragraph pasted as a key) from costing a full table per row.
      size_t length_difference = std::max(name.size(), row->name().size()) - std::min(name.size(), row->name().size());
      if (length_difference >= best_distance) continue;
      size_t distance = edit_distance(name, row->name());
      if (distance < best_distance) {
        best = row;
        best_distance = distance;
      }
    }
    if (best != nullptr) return message + "; did you mean " + join(concrete, best->name()) + "?";
    return message + "; known keys here: " + join_list(known);
  }

  // `map` is a map, or null/undefined for "no keys written". Every row under `pattern` that
  // the map does not mention takes its default.
  void walk_map(const YAML::Node& map, std::string_view pattern, const std::string& concrete, size_t item,
                Place map_place, const Origin& origin) {
    std::map<std::string, Place, std::less<>> seen;
    if (map.IsDefined() && map.IsMap()) {
      // Each entry is a pair of node handles; they are copied because the iterator hands out
      // temporaries.
      for (const auto& entry : map) {
        const YAML::Node key = entry.first;
        Place key_place = place_of(key, origin);
        if (!key.IsScalar()) {
          fail(key_place, concrete, "keys must be plain names, found " + describe(key) + " as a key", origin);
          continue;
        }
        const std::string name = key.Scalar();
        std::string path = join(concrete, key_in_path(name));
        if (auto first = seen.find(name); first != seen.end()) {
          fail(key_place, path, "duplicate key (first at line " + std::to_string(first->second.line) + ")", origin);
          continue;
        }
        seen.emplace(name, key_place);
        const KeyRow* row = find_child(pattern, name);
        if (row == nullptr) {
          fail(key_place, path, unknown_key_message(pattern, concrete, name), origin);
          continue;
        }
        read_value(*row, entry.second, key_place, path, item, origin);
      }
    }
    auto it = children_.find(pattern);
    if (it == children_.end()) return;
    for (const KeyRow* row : it->second) {
      if (seen.find(row->name()) == seen.end()) apply_default(*row, map_place, join(concrete, row->name()), item, origin);
    }
  }

  void apply_default(const KeyRow& row, Place parent_place, const std::string& path, size_t item,
                     const Origin& origin) {
    if (row.flags.required) {
      fail(parent_place, path, "required key is missing", origin);
      return;
    }
    if (row.default_text.empty()) {
      // An object without a default of its own: its keys take theirs (unless the whole object
      // is optional, like a route's `http`). Other keys without a default stay unset.
      if (row.type == KeyType::Object && !row.flags.optional_object) {
        walk_map(YAML::Node(), row.path, path, item, parent_place, origin);
      }
      return;
    }
    auto parsed = defaults_.find(&row);
    SLUICE_ASSERT(parsed != defaults_.end(), "every default in the key table is indexed");
    Origin from_default{origin.at.value_or(parent_place), row.default_text};
    read_value(row, parsed->second, parent_place, path, item, from_default);
  }

  // `key_place` is where the key was written; errors about a missing value point there.
  void read_value(const KeyRow& row, const YAML::Node& node, Place key_place, const std::string& path, size_t item,
                  const Origin& origin) {
    Place place = (node.IsNull() || !node.IsDefined()) ? key_place : place_of(node, origin);
    remember(path, place, origin);
    auto wrong_type = [&] {
      std::string message = "expected " + expected(row) + ", found " + describe(node);
      if (row.type == KeyType::StringList && node.IsScalar()) {
        message += " (write [" + node.Scalar() + "] for a list of one)";
      }
      fail(place, path, std::move(message), origin);
    };

    switch (row.type) {
      case KeyType::Object:
        if (node.IsNull() || node.IsMap()) {
          walk_map(node, row.path, path, item, place, origin);
        } else {
          wrong_type();
        }
        return;
      case KeyType::ObjectList:
        read_object_list(row, node, place, path, origin, wrong_type);
        return;
      case KeyType::StringMap:
        read_string_map(row, node, path, item, origin, wrong_type);
        return;
      case KeyType::StringList:
      case KeyType::DurationList:
        read_string_list(row, node, place, path, item, origin, wrong_type);
        return;
      default:
        break;
    }

    if (node.IsNull()) {
      std::string message = "has no value";
      if (row.type == KeyType::String) message += " (write \"\" for an empty string)";
      fail(place, path, std::move(message), origin);
      return;
    }
    if (!node.IsScalar()) {
      wrong_type();
      return;
    }
    std::optional<std::string> text = expand(node, place, path, origin);
    if (!text) return;
    std::optional<Value> value = parse_scalar(row, std::move(*text), place, path, origin);
    if (value) row.bind.store(config_, item, std::move(*value));
  }

  template <typename WrongType>
  void read_object_list(const KeyRow& row, const YAML::Node& node, Place place, const std::string& path,
                        const Origin& origin, WrongType& wrong_type) {
    if (!node.IsNull() && !node.IsSequence()) {
      wrong_type();
      return;
    }
    size_t count = 0;
    if (node.IsSequence()) {
      for (const YAML::Node& entry : node) {
        std::string entry_path = path + "[" + std::to_string(count++) + "]";
        Place entry_place = place_of(entry, origin);
        // Entries are appended even when broken, so indices in messages match the file.
        size_t index = row.bind.append_item(config_, origin.is_default() ? 0 : entry_place.line);
        remember(entry_path, entry_place, origin);
        if (!entry.IsMap()) {
          fail(entry_place, entry_path, "expected a map, found " + describe(entry), origin);
          continue;
        }
        walk_map(entry, std::string(row.path) + "[]", entry_path, index, entry_place, origin);
      }
    }
    if (count == 0 && row.flags.non_empty) fail(place, path, "needs at least one entry", origin);
  }

  template <typename WrongType>
  void read_string_map(const KeyRow& row, const YAML::Node& node, const std::string& path, size_t item,
                       const Origin& origin, WrongType& wrong_type) {
    if (!node.IsNull() && !node.IsMap()) {
      wrong_type();
      return;
    }
    StringMap values;
    std::set<std::string, std::less<>> names;
    bool ok = true;
    if (node.IsMap()) {
      for (const auto& entry : node) {
        const YAML::Node key = entry.first;
        const YAML::Node value = entry.second;
        Place key_place = place_of(key, origin);
        if (!key.IsScalar()) {
          fail(key_place, path, "keys must be plain names, found " + describe(key) + " as a key", origin);
          ok = false;
          continue;
        }
        const std::string name = key.Scalar();
        std::string entry_path = join(path, key_in_path(name));
        if (!names.insert(name).second) {
          fail(key_place, entry_path, "duplicate key", origin);
          ok = false;
          continue;
        }
        remember(entry_path, key_place, origin);
        if (!value.IsScalar()) {
          std::string message = "expected a string, found " + describe(value);
          if (value.IsMap()) message += " (write a dotted property name as one key, e.g. ssl.ca.location: ...)";
          if (value.IsNull()) message = "has no value";
          fail(value.IsNull() ? key_place : place_of(value, origin), entry_path, std::move(message), origin);
          ok = false;
          continue;
        }
        std::optional<std::string> text = expand(value, place_of(value, origin), entry_path, origin);
        if (!text) {
          ok = false;
          continue;
        }
        values.emplace(name, std::move(*text));
      }
    }
    if (ok) row.bind.store(config_, item, Value(std::move(values)));
  }

  template <typename WrongType>
  void read_string_list(const KeyRow& row, const YAML::Node& node, Place place, const std::string& path, size_t item,
                        const Origin& origin, WrongType& wrong_type) {
    if (!node.IsNull() && !node.IsSequence()) {
      wrong_type();
      return;
    }
    std::vector<std::string> values;
    bool ok = true;
    if (node.IsSequence()) {
      for (const YAML::Node& entry : node) {
        std::string entry_path = path + "[" + std::to_string(values.size()) + "]";
        Place entry_place = place_of(entry, origin);
        remember(entry_path, entry_place, origin);
        std::optional<std::string> text;
        if (!entry.IsScalar()) {
          fail(entry_place, entry_path, "expected a string, found " + describe(entry), origin);
        } else {
          text = expand(entry, entry_place, entry_path, origin);
        }
        if (text && !check_string(row, *text, entry_place, entry_path, origin)) text.reset();
        if (!text) ok = false;
        // A placeholder keeps the indices of later entries in step with the file.
        values.push_back(text.value_or(std::string()));
      }
    }
    if (values.empty() && row.flags.non_empty) {
      fail(place, path, "needs at least one entry", origin);
      ok = false;
    }
    if (row.type == KeyType::DurationList) {
      // Every entry is checked, and repeats named, even after an entry failed: one run of
      // check-config shows everything wrong with the list.
      std::vector<Duration> durations;
      std::map<Duration, size_t> first_index;
      for (size_t i = 0; i < values.size(); ++i) {
        std::string entry_path = path + "[" + std::to_string(i) + "]";
        if (failed_paths_.count(entry_path) != 0) continue;
        Place entry_place = written_.count(entry_path) != 0 ? written_.at(entry_path).place : place;
        KeyRow single = row;
        single.type = KeyType::Duration;
        std::optional<Value> duration = parse_scalar(single, values[i], entry_place, entry_path, origin);
        if (!duration) {
          ok = false;
          continue;
        }
        Duration value = std::get<Duration>(*duration);
        if (auto [first, inserted] = first_index.emplace(value, i); !inserted) {
          fail(entry_place, entry_path,
               quoted(values[i]) + " repeats " + path + "[" + std::to_string(first->second) +
                   "]; two tiers with the same delay would share one topic",
               origin);
          ok = false;
        }
        durations.push_back(value);
      }
      if (ok) row.bind.store(config_, item, Value(std::move(durations)));
      return;
    }
    if (ok) row.bind.store(config_, item, Value(std::move(values)));
  }

  std::optional<std::string> expand(const YAML::Node& scalar, Place place, const std::string& path,
                                    const Origin& origin) {
    Expanded expanded = expand_env(scalar.Scalar(), env_);
    if (!expanded.ok()) {
      fail(place, path, std::move(expanded.error), origin);
      return std::nullopt;
    }
    return std::move(expanded.text);
  }

  // The table-driven checks on one string: non-empty, topic name.
  bool check_string(const KeyRow& row, const std::string& text, Place place, const std::string& path,
                    const Origin& origin) {
    if (text.empty()) {
      if (row.flags.non_empty) {
        fail(place, path, "must not be empty", origin);
        return false;
      }
      return true;
    }
    if (row.flags.topic_name && !is_valid_topic_name(text)) {
      fail(place, path,
           quoted(text) + " is not a valid Kafka topic name (1 to 249 of a-z, A-Z, 0-9, '.', '_', '-'; not \".\" or \"..\")",
           origin);
      return false;
    }
    return true;
  }

  std::optional<Value> parse_scalar(const KeyRow& row, std::string text, Place place, const std::string& path,
                                    const Origin& origin) {
    switch (row.type) {
      case KeyType::String:
        if (!check_string(row, text, place, path, origin)) return std::nullopt;
        if (row.flags.path) return Value(resolve_path(options_.base_dir, text));
        return Value(std::move(text));
      case KeyType::Int: {
        std::optional<int64_t> number = text::parse_int(text);
        if (!number) {
          fail(place, path, "expected an integer, found " + quoted(text), origin);
          return std::nullopt;
        }
        if (*number < row.min || *number > row.max) {
          fail(place, path, std::to_string(*number) + " is out of range " + format_range(row), origin);
          return std::nullopt;
        }
        return Value(*number);
      }
      case KeyType::Bool:
        if (text == "true") return Value(true);
        if (text == "false") return Value(false);
        fail(place, path, "expected true or false, found " + quoted(text), origin);
        return std::nullopt;
      case KeyType::Duration: {
        std::optional<Duration> duration = text::parse_duration(text);
        if (!duration) {
          fail(place, path, quoted(text) + " is not a duration; " + std::string(kDurationForms), origin);
          return std::nullopt;
        }
        if (duration->count() < row.min || duration->count() > row.max) {
          fail(place, path, quoted(text) + " is out of range " + format_range(row), origin);
          return std::nullopt;
        }
        return Value(*duration);
      }
      case KeyType::Enum:
        if (std::find(row.allowed.begin(), row.allowed.end(), text) == row.allowed.end()) {
          fail(place, path, quoted(text) + " is not one of: " + join_list(row.allowed), origin);
          return std::nullopt;
        }
        return Value(std::move(text));
      default:
        SLUICE_ASSERT(false, "container types are read by their own functions");
        return std::nullopt;
    }
  }

  // True when `path` or a key above or below it already has an error: a check across keys
  // would only repeat it (a misspelt `chanel` already explains why a match has no channel).
  bool near_failed_key(const std::string& path) const {
    auto within = [](const std::string& inner, const std::string& outer) {
      return inner.size() > outer.size() && inner.starts_with(outer) &&
             (inner[outer.size()] == '.' || inner[outer.size()] == '[');
    };
    for (const std::string& failed : failed_paths_) {
      if (path == failed || within(path, failed) || within(failed, path)) return true;
    }
    return false;
  }

  // The place of `path`, or of its nearest written ancestor.
  Written written_place(std::string path) const {
    while (!path.empty()) {
      if (auto it = written_.find(path); it != written_.end()) return it->second;
      size_t cut = path.find_last_of(".[");
      path.resize(cut == std::string::npos ? 0 : cut);
    }
    return Written{};
  }

  void check_across_keys() {
    std::vector<Problem> problems = validate(config_);
    parse_route_errors(config_, problems);
    check_referenced_files(config_, problems);
    for (const ExtraCheck& check : options_.checks) check(config_, problems);
    for (Problem& problem : problems) {
      if (near_failed_key(problem.path)) continue;
      Written written = written_place(problem.path);
      std::string message = std::move(problem.message);
      if (written.from_default) message += " (a default value)";
      errors_.push_back({written.place, prefix(written.place) + problem.path + ": " + message});
    }
  }

  std::string source_;
  const EnvLookup& env_;
  const LoadOptions& options_;
  const std::map<std::string_view, std::vector<const KeyRow*>, std::less<>>& children_;
  const std::unordered_map<const KeyRow*, YAML::Node>& defaults_;
  Config config_;
  std::vector<Error> errors_;
  std::set<std::string> failed_paths_;
  std::map<std::string, Written> written_;
};

}  // namespace

LoadResult load_string_with_table(const KeyTable& table, std::string_view yaml, std::string_view source_name,
                                  const EnvLookup& env) {
  TableIndex index(table);
  return Loader(index, source_name, env, LoadOptions{}).run(yaml, std::string(source_name));
}

LoadResult load_string(std::string_view yaml, std::string_view source_name, const EnvLookup& env,
                       const LoadOptions& options) {
  return Loader(index_of_key_table(), source_name, env, options).run(yaml, std::string(source_name));
}

LoadResult load_defaults(const EnvLookup& env, const LoadOptions& options) {
  return Loader(index_of_key_table(), "<defaults>", env, options).run("", "");
}

LoadResult load_file(const std::string& path, const EnvLookup& env, const LoadOptions& options) {
  std::string text;
  std::string error;
  if (!read_text_file(path, kMaxConfigFileBytes, text, error)) {
    LoadResult result;
    result.errors.push_back(path + ": cannot read: " + error);
    return result;
  }
  LoadOptions in_directory = options;
  in_directory.base_dir = directory_of(path);
  return Loader(index_of_key_table(), path, env, in_directory).run(text, path);
}

}  // namespace sluice::config
