#pragma once
// Builds the engine the daemon runs: librdkafka's consumer and producer, with the properties
// of client_properties.h, put into Engine::Parts.

#include <memory>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace sluice::engine {

// Creates the Kafka clients `parts` lacks, then the engine. Every problem is appended to
// `errors` (nullptr returned).
std::unique_ptr<Engine> make_engine(Engine::Parts parts, std::vector<std::string>& errors);

}  // namespace sluice::engine
