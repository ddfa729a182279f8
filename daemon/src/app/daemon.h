#pragma once
// `sluice run`: builds every part from the validated config in order — logging, metrics,
// the admin server, the dedup store, the engine — runs the engine until
// SIGTERM/SIGINT, and tears the parts down in reverse. SIGHUP (and a swapped ConfigMap
// `..data` link next to the config file) reloads blocked senders, spam keywords and schemas.

#include <memory>

#include "config/config.h"
#include "stages/stage_chain.h"

namespace sluice::app {

// `resources`: the stage resources loaded while the config was checked.
int run_daemon(std::shared_ptr<const config::Config> config, std::shared_ptr<const stages::StageResources> resources);

}  // namespace sluice::app
