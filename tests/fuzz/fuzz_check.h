// The invariant checks the fuzz harnesses share. A broken invariant prints what broke, with
// the detail's control and non-ASCII bytes escaped (it often holds fuzzed bytes), and aborts,
// which libFuzzer reports as a crash and answers by saving the input.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace sluice::fuzz {

// Set once by each harness: the name the messages start with.
extern const char* const kTargetName;

[[noreturn]] inline void fail(const char* what, std::string_view detail = {}) {
  std::string shown;
  for (char c : detail.substr(0, 4000)) {
    auto byte = static_cast<unsigned char>(c);
    if (byte == '\n') {
      shown += '\n';
    } else if (byte == '\\') {
      shown += "\\\\";
    } else if (byte < 0x20 || byte >= 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", byte);
      shown += escaped;
    } else {
      shown += c;
    }
  }
  std::fprintf(stderr, "%s: invariant broken: %s%s%s\n", kTargetName, what, shown.empty() ? "" : ": ", shown.c_str());
  std::abort();
}

inline void check(bool condition, const char* what, std::string_view detail = {}) {
  if (!condition) fail(what, detail);
}

}  // namespace sluice::fuzz
