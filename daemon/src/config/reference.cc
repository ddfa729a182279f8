#include "config/reference.h"

#include <yaml-cpp/yaml.h>

#include <map>
#include <vector>

#include "common/text.h"
#include "config/env_subst.h"

namespace sluice::config {
namespace {

constexpr std::string_view kRedacted = "<redacted>";

using Children = std::map<std::string_view, std::vector<const KeyRow*>, std::less<>>;

Children children_of(const KeyTable& table) {
  Children children;
  for (const KeyRow& row : table) children[row.parent()].push_back(&row);
  return children;
}

// Markdown table cells cannot hold a raw `|`.
std::string cell(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

// Appended piece by piece: GCC 12 at -O3 reports `"literal" + std::string` as a -Wrestrict
// overlap (a false positive in its inlined memcpy bounds).
std::string code(std::string_view text) {
  std::string out = "`";
  out += cell(text);
  out += '`';
  return out;
}

std::string default_cell(const KeyRow& row) {
  if (row.flags.required) return "required";
  if (!row.default_text.empty()) return code(row.default_text);
  if (row.type == KeyType::Object) return "";
  return "unset";
}

std::string range_cell(const KeyRow& row) {
  std::vector<std::string> parts;
  bool bounded = row.min != std::numeric_limits<int64_t>::min() || row.max != std::numeric_limits<int64_t>::max();
  if (row.type == KeyType::Int && bounded) parts.push_back(std::to_string(row.min) + ".." + std::to_string(row.max));
  if (row.type == KeyType::Duration && bounded) {
    parts.push_back(text::format_duration(Duration(row.min)) + ".." + text::format_duration(Duration(row.max)));
  }
  if (row.type == KeyType::Enum) {
    std::string allowed;
    for (const std::string& value : row.allowed) allowed += (allowed.empty() ? "" : ", ") + code(value);
    parts.push_back(allowed);
  }
  if (row.flags.non_empty) {
    parts.push_back(row.type == KeyType::String ? "not empty" : "at least one");
  }
  if (row.flags.topic_name) parts.push_back("Kafka topic name");
  std::string out;
  for (const std::string& part : parts) out += (out.empty() ? "" : "; ") + part;
  return out;
}

std::string doc_cell(const KeyRow& row) {
  std::string doc = cell(row.doc);
  if (row.flags.path) doc += " A relative path is resolved against the config file's directory.";
  if (row.flags.sensitive) doc += " Redacted in dumps.";
  if (row.flags.secret_entries) doc += " Values of secret properties (passwords, keys, tokens) are redacted in dumps.";
  return doc;
}

class YamlWriter {
 public:
  YamlWriter(const Config& config, const KeyTable& table) : config_(config), children_(children_of(table)) {}

  std::string render() {
    write_map("", 0);
    std::string text = out_.c_str();
    text += '\n';
    return text;
  }

 private:
  void write_map(std::string_view pattern, size_t item) {
    out_ << YAML::BeginMap;
    auto it = children_.find(pattern);
    if (it != children_.end()) {
      for (const KeyRow* row : it->second) write_key(*row, item);
    }
    out_ << YAML::EndMap;
  }

  // True when some key below `pattern` has a value for entry `item`.
  bool has_values(std::string_view pattern, size_t item) const {
    auto it = children_.find(pattern);
    if (it == children_.end()) return false;
    for (const KeyRow* row : it->second) {
      if (row->type == KeyType::Object ? has_values(row->path, item)
                                       : row->bind.read && !std::holds_alternative<std::monostate>(row->bind.read(config_, item))) {
        return true;
      }
    }
    return false;
  }

  void write_key(const KeyRow& row, size_t item) {
    if (row.type == KeyType::Object) {
      // An optional object that is absent (a topic route's `http`) is left out entirely.
      if (row.flags.optional_object && !has_values(row.path, item)) return;
      out_ << YAML::Key << std::string(row.name()) << YAML::Value;
      write_map(row.path, item);
      return;
    }
    if (row.type == KeyType::ObjectList) {
      out_ << YAML::Key << std::string(row.name()) << YAML::Value;
      size_t count = row.bind.item_count(config_);
      if (count == 0) out_ << YAML::Flow;
      out_ << YAML::BeginSeq;
      std::string entry_pattern = std::string(row.path) + "[]";
      for (size_t i = 0; i < count; ++i) write_map(entry_pattern, i);
      out_ << YAML::EndSeq;
      return;
    }
    Value value = row.bind.read(config_, item);
    if (std::holds_alternative<std::monostate>(value)) return;
    out_ << YAML::Key << std::string(row.name()) << YAML::Value;
    if (row.flags.sensitive) {
      out_ << YAML::DoubleQuoted << std::string(kRedacted);
      return;
    }
    write_value(row, value);
  }

  void write_value(const KeyRow& row, const Value& value) {
    if (const auto* text = std::get_if<std::string>(&value)) {
      out_ << escape_env(*text);
    } else if (const auto* number = std::get_if<int64_t>(&value)) {
      out_ << *number;
    } else if (const auto* flag = std::get_if<bool>(&value)) {
      out_ << (*flag ? "true" : "false");
    } else if (const auto* duration = std::get_if<Duration>(&value)) {
      out_ << text::format_duration(*duration);
    } else if (const auto* durations = std::get_if<std::vector<Duration>>(&value)) {
      out_ << YAML::Flow << YAML::BeginSeq;
      for (const Duration& entry : *durations) out_ << text::format_duration(entry);
      out_ << YAML::EndSeq;
    } else if (const auto* list = std::get_if<std::vector<std::string>>(&value)) {
      if (list->empty()) out_ << YAML::Flow;
      out_ << YAML::BeginSeq;
      for (const std::string& entry : *list) out_ << escape_env(entry);
      out_ << YAML::EndSeq;
    } else if (const auto* map = std::get_if<StringMap>(&value)) {
      if (map->empty()) out_ << YAML::Flow;
      out_ << YAML::BeginMap;
      for (const auto& [name, entry] : *map) {
        out_ << YAML::Key << name << YAML::Value;
        if (row.flags.secret_entries && is_secret_property(name)) {
          out_ << YAML::DoubleQuoted << std::string(kRedacted);
        } else {
          out_ << escape_env(entry);
        }
      }
      out_ << YAML::EndMap;
    }
  }

  const Config& config_;
  Children children_;
  YAML::Emitter out_;
};

}  // namespace

bool is_secret_property(std::string_view name) {
  std::string lower = text::ascii_lower(name);
  for (std::string_view marker : {"password", "secret", "token", "jaas", "oauthbearer.config", "key.pem", "ssl_key"}) {
    if (lower.find(marker) != std::string::npos) return true;
  }
  return false;
}

std::string render_reference_markdown() {
  std::string out;
  out +=
      "# Configuration reference\n"
      "\n"
      "Generated from the key table in `daemon/src/config/key_table.cc`; edit the table, not this file.\n"
      "`config/sluice.yaml` shows every key with its default.\n"
      "\n"
      "- A key left out takes its default. Unknown keys are errors, and every error is reported at once\n"
      "  as `FILE:LINE:COL: key.path: what is wrong`.\n"
      "- Durations are a number and a unit (`ms`, `s`, `m`, `h`, `d`), which may be combined, each\n"
      "  unit at most once and largest first: `500ms`, `10s`, `5m`, `24h`, `1h30m` (not `30m1h`).\n"
      "- Values may refer to the environment: `${VAR}`, `${VAR:-default}` (used when VAR is unset or\n"
      "  empty), `${VAR:?message}` (an error saying `message` when VAR is unset or empty); `$$` is a\n"
      "  literal `$`. Substitution happens after the YAML is parsed and stays inside one value.\n"
      "- Relative paths (keys marked so below, and librdkafka's file properties such as\n"
      "  `ssl.ca.location`) are resolved against the directory of the config file, whatever the\n"
      "  working directory; without `--config` (embedded defaults) against the working directory.\n"
      "- A config file may be at most 4 MiB; larger files are refused before they are read.\n"

      "- `routes[].topic` is the key `topic` of each entry of the `routes` list.\n"
      "\n"
      "| Key | Type | Default | Range / allowed | Description |\n"
      "|---|---|---|---|---|\n";
  for (const KeyRow& row : key_table()) {
    std::string type(type_name(row.type));
    out += "| " + code(row.path) + " | " + type + " | " + default_cell(row) + " | " + range_cell(row) + " | " +
           doc_cell(row) + " |\n";
  }
  return out;
}

std::string render_effective_yaml(const Config& config) { return render_effective_yaml(config, key_table()); }

std::string render_effective_yaml(const Config& config, const KeyTable& table) {
  return YamlWriter(config, table).render();
}

}  // namespace sluice::config
