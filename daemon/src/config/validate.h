#pragma once
// Checks that span several keys, run by the loader after every key has its value (its own,
// or the default). Each problem names the concrete key it is about (routes[2].topic,
// kafka.properties.group.id); the loader turns that into a file position.
//
// Checks of a single value (type, range, enum, non-empty, topic name) are driven by the key
// table and happen while loading; they are not repeated here.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace sluice::config {

struct Problem {
  std::string path;
  std::string message;
};

std::vector<Problem> validate(const Config& config);

// An HTTP route's `concurrency` as a fixed count; nullopt for "adaptive" (and for anything
// else, which validate() reports).
std::optional<int64_t> fixed_concurrency(const HttpRouteConfig& http);

// Why `entry` of routes[].http.forward_headers cannot be used (empty when it can): a header
// name that is not an HTTP token, a * anywhere but at the end, a sluice-* name, or a header
// sluice sets itself.
std::string forward_header_problem(std::string_view entry);

// Kafka's rule for topic names: 1..249 of [A-Za-z0-9._-], and neither "." nor "..".
bool is_valid_topic_name(std::string_view name);

}  // namespace sluice::config
