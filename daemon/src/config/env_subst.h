#pragma once
// Substitution of environment variables inside one YAML scalar. The loader calls it after the
// document is parsed, on values only (never on keys), so whatever a variable holds stays
// inside that one value: it can never add keys, lists or maps to the document.
//
// Accepted forms:
//   ${VAR}            the value of VAR; an error when VAR is unset
//   ${VAR:-default}   the value of VAR, or `default` when VAR is unset or empty
//                     (the default may itself hold ${...})
//   ${VAR:?message}   the value of VAR; an error saying `message` when VAR is unset or empty
//   $$                a literal `$`
// A `$` followed by anything else is kept as it is. Values taken from the environment are
// used verbatim: a `$` inside them is not expanded again.

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::config {

// Answers "what is VAR set to"; nullopt when unset. Tests pass a map-backed lookup.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

// Reads the process environment with getenv(). Not safe against a concurrent setenv(), which
// sluice never calls.
EnvLookup process_env();

struct Expanded {
  std::string text;   // the scalar with every reference replaced; meaningless on error
  std::string error;  // empty on success, else why the scalar cannot be expanded

  bool ok() const { return error.empty(); }
};

Expanded expand_env(std::string_view scalar, const EnvLookup& env);

// The inverse of expand_env for literal text: every `$` doubled, so the result expands back
// to `text`.
std::string escape_env(std::string_view text);

}  // namespace sluice::config
