#pragma once
// Checks, while the config is loaded, that librdkafka accepts every property of every client
// the daemon creates, so that a misspelt property or a bad value is a config error with its
// FILE:LINE:COL (exit 2 from check-config and run) and never a failure when the engine
// starts. Nothing here connects anywhere.

#include <vector>

#include "config/config.h"
#include "config/validate.h"

namespace sluice::kafka {

// Builds a throwaway librdkafka configuration for the engine's consumer and producer
// (transactional with delivery: exactly_once) from client_properties(), setting every
// property exactly as the engine does, then a client without brokers; each refusal is a
// Problem naming the key the property came from (kafka.producer_properties.acks, ...).
void check_client_properties(const config::Config& config, std::vector<config::Problem>& problems);

}  // namespace sluice::kafka
