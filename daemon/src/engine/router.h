#pragma once
// Picks the destination of a valid message: the first route whose match fits wins.

#include <string_view>
#include <vector>

#include "config/config.h"

namespace sluice::engine {

class Router {
 public:
  explicit Router(std::vector<config::RouteConfig> routes) : routes_(std::move(routes)) {}

  // Index into routes(), or -1 when no route matches.
  int match(std::string_view channel, std::string_view message_type) const {
    for (size_t i = 0; i < routes_.size(); ++i) {
      const config::RouteMatch& match = routes_[i].match;
      if (match.channel && *match.channel != channel) continue;
      if (match.message_type && *match.message_type != message_type) continue;
      return static_cast<int>(i);
    }
    return -1;
  }
  const std::vector<config::RouteConfig>& routes() const { return routes_; }

 private:
  std::vector<config::RouteConfig> routes_;
};

}  // namespace sluice::engine
