// Fuzz target: the config loader as `sluice check-config` runs it — YAML text, ${VAR}
// substitution against a fixed environment, the key table's checks and the cross-key
// validation — then the spam keyword automaton, the one check-config step that needs no
// file. (The schema directory and the blocked senders file are not read: the paths in a
// fuzzed config name arbitrary files, and reading /dev/zero proves nothing.)
//
// Invariants: a load either yields a config and no errors, or errors and no config; every
// error reads `FILE:LINE:COL: key.path: message` with a position inside the text; a loaded
// config passes validation again; and its effective YAML (the admin /config_dump) loads
// back to a config that renders to the same text (checked for one loaded input in eight
// while fuzzing, for every input in the replay tests).
//
// Input: the YAML text, as it would be in the file.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/loader.h"
#include "config/reference.h"
#include "config/validate.h"
#include "stages/stage_chain.h"

#include "fuzz_check.h"

const char* const sluice::fuzz::kTargetName = "fuzz_config";

namespace {

using namespace sluice;

constexpr std::string_view kSource = "fuzz.yaml";

using fuzz::check;
using fuzz::fail;

// A fixed environment, so a run does not depend on the machine's variables. It has the
// example config's variables, an empty one (for ${VAR:-default} and ${VAR:?message}), and
// values that would expand again or break YAML if substitution were not verbatim.
const config::EnvLookup& environment() {
  static const std::map<std::string, std::string, std::less<>> variables = {
      {"KAFKA_BROKERS", "broker-1:9092,broker-2:9092"},
      {"POD_NAME", "sluice-0"},
      {"STATE_DIRECTORY", "/var/lib/sluice"},
      {"EMPTY", ""},
      {"DOLLAR", "$HOME ${POD_NAME} $$"},
      {"YAML", "{a: [1, 2]}\n- b: \"c\""},
      {"NUMBER", "42"},
      {"DURATION", "1h30m"},
      {"TOPIC", "clean.email"},
  };
  static const config::EnvLookup lookup = [](std::string_view name) -> std::optional<std::string> {
    auto it = variables.find(name);
    if (it == variables.end()) return std::nullopt;
    return it->second;
  };
  return lookup;
}

bool all_digits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// The highest line number a position in `text` can have: yaml-cpp counts \n, \r\n and a lone
// \r as line breaks, and may report the position just past the end.
size_t max_line(std::string_view text) {
  size_t breaks = 0;
  for (char c : text) breaks += (c == '\n' || c == '\r') ? 1 : 0;
  return breaks + 1;
}

// FILE:LINE:COL: key.path: message — LINE and COL positive, LINE at most `last_line`, key.path
// and message non-empty. Keys and values are quoted as written, so a key path may itself hold
// spaces, ": " or line breaks; only the position prefix has a fixed shape.
void check_error_format(const std::string& error, size_t last_line) {
  std::string_view rest = error;
  check(rest.substr(0, kSource.size() + 1) == std::string(kSource) + ":", "error does not start with the file", error);
  rest.remove_prefix(kSource.size() + 1);
  size_t colon = rest.find(':');
  check(colon != std::string_view::npos && all_digits(rest.substr(0, colon)), "error has no line number", error);
  std::string_view line = rest.substr(0, colon);
  rest.remove_prefix(colon + 1);
  colon = rest.find(':');
  check(colon != std::string_view::npos && all_digits(rest.substr(0, colon)), "error has no column number", error);
  std::string_view column = rest.substr(0, colon);
  rest.remove_prefix(colon + 1);
  check(line.size() <= 9 && column.size() <= 9, "error position is absurd", error);
  size_t line_number = std::stoul(std::string(line));
  check(line_number >= 1 && std::stoul(std::string(column)) >= 1, "error position is not 1-based", error);
  check(line_number <= last_line, "error line is past the end of the text", error);
  check(rest.size() > 1 && rest.front() == ' ', "error lacks the space after the position", error);
  rest.remove_prefix(1);
  size_t separator = rest.find(": ");
  check(separator != std::string_view::npos && separator > 0, "error has no key path", error);
  check(rest.size() > separator + 2, "error has no message", error);
}

// FNV-1a of the input, so the choice depends on the bytes only. The replay build (CTest over
// the seed corpus and the regressions) checks every input.
bool takes_render_check(std::string_view input) {
#ifdef SLUICE_FUZZ_REPLAY
  (void)input;
  return true;
#else
  uint32_t hash = 2166136261u;
  for (char c : input) hash = (hash ^ static_cast<unsigned char>(c)) * 16777619u;
  return hash % 8 == 0;
#endif
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view yaml(reinterpret_cast<const char*>(data), size);
  config::LoadResult loaded = config::load_string(yaml, kSource, environment());
  if (!loaded.ok()) {
    check(!loaded.errors.empty(), "a load failed without an error");
    // Counted once: an input can hold hundreds of errors.
    size_t last_line = max_line(yaml);
    for (const std::string& error : loaded.errors) check_error_format(error, last_line);
    return 0;
  }
  if (!loaded.errors.empty()) fail("a load succeeded and reported errors", loaded.errors.front());
  const config::Config& config = *loaded.config;
  check(config.source_path == kSource, "config does not name its file", config.source_path);

  std::vector<config::Problem> problems = config::validate(config);
  check(problems.empty(), "a loaded config fails validation",
        problems.empty() ? std::string() : problems.front().path + ": " + problems.front().message);

  // The keyword automaton is rebuilt only when the list changes: most inputs keep the default
  // list, and building its automaton costs more than the load itself.
  static std::vector<std::string> last_keywords;
  if (config.pipeline.filter.spam_keywords != last_keywords) {
    std::vector<std::string> errors;
    std::shared_ptr<const stages::KeywordMatcher> keywords = stages::build_spam_keywords(config.pipeline.filter, errors);
    check((keywords != nullptr) == errors.empty(), "spam keywords: an automaton and errors, or neither");
    last_keywords = config.pipeline.filter.spam_keywords;
  }

  // The effective configuration must describe the same config. Redacted values are
  // placeholders, not the config's values, so such a dump is not expected to load back.
  // Rendering and loading the whole effective config costs several times a small input's own
  // load, so one loaded input in eight, chosen by its bytes (a crash reproduces), takes this
  // check; the fuzzer's mutations reach every rendering path that way too.
  if (!takes_render_check(yaml)) return 0;
  std::string rendered = config::render_effective_yaml(config);
  if (rendered.find("<redacted>") != std::string::npos) return 0;
  config::LoadResult reloaded = config::load_string(rendered, kSource, environment());
  check(reloaded.ok(), "the effective YAML does not load back",
        (reloaded.errors.empty() ? std::string() : reloaded.errors.front()) + "\n" + rendered);
  std::string rerendered = config::render_effective_yaml(*reloaded.config);
  check(rerendered == rendered, "the effective YAML changes when loaded back", rendered + "\n  became\n" + rerendered);
  return 0;
}
