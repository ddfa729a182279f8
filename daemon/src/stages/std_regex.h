#pragma once
// <regex>, included so that GCC 12's -Wmaybe-uninitialized false positives inside
// libstdc++'s regex compiler (a std::function it copies) do not fail -Werror builds with
// sanitizers. Include it before anything that may pull in <functional>.

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <functional>
#include <regex>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
