#pragma once
// Turns each route's `errors:` (names and classes as written) into its typed table, while
// loading, so that a name librdkafka does not know or a class that does not exist is a config
// error with its position, not a failure when the engine starts.

#include <optional>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "config/validate.h"

namespace sluice::config {

// Fills every route's error_table from its errors; each entry that cannot be read is a
// Problem naming routes[i].errors.<name>.
void parse_route_errors(Config& config, std::vector<Problem>& problems);

// librdkafka's code for an error name such as "TOPIC_AUTHORIZATION_FAILED" (as
// rd_kafka_err2name spells it), or nullopt.
std::optional<int> kafka_error_by_name(std::string_view name);

}  // namespace sluice::config
