#pragma once
// How `sluice run`, `sluice check-config` and `sluice replay` load their configuration: the
// config loader's own checks, plus every check that needs the rest of the daemon and used to
// happen only when the engine started (librdkafka properties, route URLs and TLS CA files,
// schemas, blocked senders, spam keywords). So check-config rejects exactly what run rejects,
// each error as FILE:LINE:COL: key: what is wrong, all at once, and run refuses a bad
// configuration (exit 2) before it connects anywhere.

#include <memory>
#include <string>

#include "config/loader.h"
#include "stages/stage_chain.h"

namespace sluice::app {

struct CheckedConfig {
  config::LoadResult loaded;
  // The schemas, blocked senders and spam keywords the check loaded: set when `loaded` is ok,
  // so start-up and reloads use them instead of reading the files a second time.
  std::shared_ptr<const stages::StageResources> resources;

  bool ok() const { return loaded.ok(); }
};

// `path` "" loads the embedded defaults.
CheckedConfig load_checked_config(const std::string& path, const config::EnvLookup& env);

}  // namespace sluice::app
