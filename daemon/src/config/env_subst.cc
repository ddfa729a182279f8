#include "config/env_subst.h"

#include <cstdlib>

namespace sluice::config {
namespace {

constexpr std::string_view kForms = "use ${VAR}, ${VAR:-default} or ${VAR:?message}, and $$ for a literal $";

bool is_name_start(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }

// Index of the `}` that closes the reference whose body starts at `from`, stepping over
// nested ${...} (allowed in defaults) and $$; npos when there is none.
size_t find_closing_brace(std::string_view text, size_t from) {
  int depth = 0;
  for (size_t i = from; i < text.size(); ++i) {
    if (text[i] == '$' && i + 1 < text.size()) {
      if (text[i + 1] == '$') {
        ++i;
      } else if (text[i + 1] == '{') {
        ++depth;
        ++i;
      }
    } else if (text[i] == '}') {
      if (depth == 0) return i;
      --depth;
    }
  }
  return std::string_view::npos;
}

// Appends the expansion of `text` to `out`; on failure fills `error` and returns false.
bool expand_into(std::string_view text, const EnvLookup& env, std::string& out, std::string& error) {
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c != '$' || i + 1 == text.size()) {
      out += c;
      continue;
    }
    char next = text[i + 1];
    if (next == '$') {
      out += '$';
      ++i;
      continue;
    }
    if (next != '{') {
      out += '$';
      continue;
    }
    size_t close = find_closing_brace(text, i + 2);
    if (close == std::string_view::npos) {
      error = "\"${\" without a closing \"}\" (" + std::string(kForms) + ")";
      return false;
    }
    std::string_view body = text.substr(i + 2, close - (i + 2));
    size_t name_end = 0;
    while (name_end < body.size() && is_name_char(body[name_end])) ++name_end;
    std::string_view name = body.substr(0, name_end);
    std::string_view rest = body.substr(name_end);
    std::string reference = "${" + std::string(name) + "}";
    if (name.empty() || !is_name_start(name.front())) {
      error = "\"${" + std::string(body) + "}\" does not start with a variable name (" + std::string(kForms) + ")";
      return false;
    }
    std::optional<std::string> value = env(name);
    bool has_value = value.has_value() && !value->empty();
    if (rest.empty()) {
      if (!value) {
        error = reference + " is not set and has no default (write ${" + std::string(name) + ":-default} to give one)";
        return false;
      }
      out += *value;
    } else if (rest.starts_with(":-")) {
      if (has_value) {
        out += *value;
      } else if (!expand_into(rest.substr(2), env, out, error)) {
        return false;
      }
    } else if (rest.starts_with(":?")) {
      if (!has_value) {
        std::string_view message = rest.substr(2);
        error = reference + " is not set or empty";
        if (!message.empty()) error += ": " + std::string(message);
        return false;
      }
      out += *value;
    } else {
      error = "\"${" + std::string(body) + "}\" is not a supported form (" + std::string(kForms) + ")";
      return false;
    }
    i = close;
  }
  return true;
}

}  // namespace

EnvLookup process_env() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

Expanded expand_env(std::string_view scalar, const EnvLookup& env) {
  Expanded result;
  if (scalar.find('$') == std::string_view::npos) {
    result.text = scalar;
    return result;
  }
  result.text.reserve(scalar.size());
  if (!expand_into(scalar, env, result.text, result.error)) result.text.clear();
  return result;
}

std::string escape_env(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '$') out += '$';
    out += c;
  }
  return out;
}

}  // namespace sluice::config
