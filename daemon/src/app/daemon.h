#pragma once
// `sluice run`: builds every part from the validated config in order (logging, metrics,
// stage resources, dedup store, engine), runs the engine until SIGTERM/SIGINT, and tears
// the parts down in reverse.

#include <memory>

#include "config/config.h"

namespace sluice::app {

int run_daemon(std::shared_ptr<const config::Config> config);

}  // namespace sluice::app
