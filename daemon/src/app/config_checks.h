#pragma once
// How `sluice run`, `sluice check-config` and `sluice replay` load their configuration: the
// config loader's own checks, plus every check that needs the rest of the daemon and used to
// happen only when the engine started (librdkafka properties, route URLs and TLS CA files,
// schemas, blocked senders, spam keywords). So check-config rejects exactly what run rejects,
// each error as FILE:LINE:COL: key: what is wrong, all at once, and run refuses a bad
// configuration (exit 2) before it connects anywhere.

#include <string>

#include "config/loader.h"

namespace sluice::app {

// `path` "" loads the embedded defaults.
config::LoadResult load_checked_config(const std::string& path, const config::EnvLookup& env);

// The checks load_checked_config adds to the loader's own.
config::LoadOptions checked_load_options();

}  // namespace sluice::app
