#include "common/assert.h"

#include <cstdlib>
#include <string>

#include "common/log.h"

namespace sluice::detail {

void assert_failed(const char* expression, const char* file, int line, std::string_view why) {
  std::string where = std::string(file) + ":" + std::to_string(line);
  log::error("invariant broken", {{"assertion", expression}, {"where", where}, {"why", why}});
  std::abort();
}

}  // namespace sluice::detail
