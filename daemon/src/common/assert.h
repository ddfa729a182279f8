#pragma once
// SLUICE_ASSERT is for broken invariants only: a state the code can never reach if it is
// correct. It logs where and why, then aborts (a supervisor restarts the daemon, and
// uncommitted offsets are redelivered). Bad data and environment failures are never asserted.

#include <string_view>

namespace sluice::detail {
[[noreturn]] void assert_failed(const char* expression, const char* file, int line, std::string_view why);
}  // namespace sluice::detail

#define SLUICE_ASSERT(condition, why)                                          \
  do {                                                                         \
    if (!(condition)) ::sluice::detail::assert_failed(#condition, __FILE__, __LINE__, (why)); \
  } while (false)
