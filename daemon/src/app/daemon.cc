#include "app/daemon.h"

#include <signal.h>

#include <atomic>
#include <exception>
#include <string>
#include <vector>

#include "common/log.h"
#include "common/version.h"
#include "dedup/dedup_store.h"
#include "engine/engine.h"
#include "metrics/metrics.h"
#include "stages/stage_chain.h"

namespace sluice::app {
namespace {

constexpr int kExitFailure = 1;
constexpr int kExitConfig = 2;

// The engine the signal handler stops. Set while Engine::run() executes, cleared before the
// engine is destroyed; request_stop() is async-signal-safe.
std::atomic<engine::Engine*> g_running_engine{nullptr};

void on_stop_signal(int) {
  if (engine::Engine* running = g_running_engine.load()) running->request_stop();
}

void install_signal_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a closed socket must surface as an error, not kill the daemon
}

void configure_logging(const config::LoggingConfig& logging) {
  bool known = false;
  log::Level level = log::parse_level(logging.level, &known);
  log::configure(logging.format == config::LogFormat::Text ? log::Format::Text : log::Format::Json, level);
}

}  // namespace

int run_daemon(std::shared_ptr<const config::Config> config) {
  configure_logging(config->logging);
  log::info("starting", {{"version", SLUICE_VERSION},
                         {"config", config->source_path.empty() ? std::string("embedded defaults") : config->source_path}});

  metrics::Metrics metrics;

  std::vector<std::string> errors;
  std::shared_ptr<const stages::StageResources> resources = stages::load_stage_resources(*config, errors);
  if (!resources) {
    for (const std::string& error : errors) log::error("invalid pipeline resource", {{"error", error}});
    return kExitConfig;
  }

  dedup::DedupStorePtr dedup;
  try {
    dedup = dedup::make_dedup_store(config->pipeline.dedup);
  } catch (const std::exception& error) {
    log::error("cannot open the dedup store", {{"error", error.what()}});
    return kExitFailure;
  }

  engine::Engine::Parts parts;
  parts.config = config;
  parts.stage_chain = std::make_unique<stages::StageChain>(config->pipeline, resources);
  parts.dedup = std::move(dedup);
  parts.metrics = &metrics;
  std::unique_ptr<engine::Engine> engine = engine::Engine::create(std::move(parts), errors);
  if (!engine) {
    for (const std::string& error : errors) log::error("cannot start the engine", {{"error", error}});
    return kExitFailure;
  }

  install_signal_handlers();
  g_running_engine.store(engine.get());
  int exit_code = engine->run();
  g_running_engine.store(nullptr);
  engine.reset();
  log::info("exited", {{"exit_code", exit_code}});
  return exit_code;
}

}  // namespace sluice::app
