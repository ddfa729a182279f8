#pragma once
// The one table of configuration keys. Each row names a key, its type, default, bounds, flags
// and documentation, and says where its value lives in Config. The loader (loader.cc) walks
// YAML against this table, the reference (reference.cc) is rendered from it, and the redacted
// dump reads values back through it; adding a key means adding one row here (and, when it
// needs a new field, that field in config.h).
//
// The table is built once, on first use, and never changes; it is safe to read from any
// thread.

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "config/config.h"

namespace sluice::config {

enum class KeyType {
  String,
  Int,         // int64 within [min, max]
  Bool,        // true or false
  Duration,    // "500ms", "10s", "5m", "24h", "1d", "1h30m"; [min, max] in milliseconds
  Enum,        // one of `allowed`
  StringList,  // a list of scalars
  DurationList,  // a list of durations, each within [min, max]
  StringMap,   // a map of scalar to scalar
  ObjectList,  // a list of maps; its keys are the rows under "<path>[]."
  Object,      // a map; its keys are the rows under "<path>."
};

struct KeyFlags {
  bool required = false;        // no default: the key must be written
  bool sensitive = false;       // the whole value is redacted in dumps and logs
  bool secret_entries = false;  // StringMap: values of entries whose name looks secret are redacted
  bool non_empty = false;       // strings must not be "", lists must have an entry
  bool topic_name = false;      // the value (each item of a list) must be a valid Kafka topic name
  bool optional_object = false; // Object: when absent it stays absent (its keys take no defaults)
  bool path = false;            // String: a file or directory; relative to the config file's directory
};

// A value on its way between the loader, a row's binding and the dump. std::monostate is
// "not set" (an optional field that is absent). Enum values travel as their spelling.
using Value = std::variant<std::monostate, std::string, int64_t, bool, Duration, std::vector<std::string>, StringMap,
                           std::vector<Duration>>;

// Where a key's value lives in Config. `item` is the index of the enclosing entry when the key
// sits under a list of objects (routes[].topic), else 0.
struct Binding {
  std::function<void(Config& config, size_t item, Value&& value)> store;
  std::function<Value(const Config& config, size_t item)> read;
  // ObjectList rows only: add an entry that starts at `line` (0 when it came from a default)
  // and return its index; count the entries.
  std::function<size_t(Config& config, int line)> append_item;
  std::function<size_t(const Config& config)> item_count;
};

struct KeyRow {
  std::string_view path{};        // dotted; keys of list entries as "routes[].match.channel"
  KeyType type = KeyType::String;
  std::string_view default_text{};  // YAML, read exactly like user input; empty: no default
  int64_t min = std::numeric_limits<int64_t>::min();  // Int, Duration (milliseconds)
  int64_t max = std::numeric_limits<int64_t>::max();
  std::vector<std::string> allowed{};  // Enum: the accepted spellings
  KeyFlags flags{};
  std::string_view doc{};  // one line, for the reference and the example file
  Binding bind{};        // empty for Object rows

  // The last path segment: "channel" for "routes[].match.channel".
  std::string_view name() const;
  // Everything before the last segment: "routes[].match" for "routes[].match.channel",
  // "routes[]" for "routes[].topic" (the keys of each entry of `routes`), "" at the top.
  std::string_view parent() const;
};

using KeyTable = std::vector<KeyRow>;

// The daemon's keys, parents before their children.
const KeyTable& key_table();

// Human-readable type name for messages and the reference: "duration", "list of strings", ...
std::string_view type_name(KeyType type);

}  // namespace sluice::config
