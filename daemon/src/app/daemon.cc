#include "app/daemon.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <exception>
#include <filesystem>
#include <string>
#include <vector>

#include "admin/admin_server.h"
#include "admin/health.h"
#include "admin/status_board.h"
#include "app/config_checks.h"
#include "app/shutdown_watchdog.h"
#include "app/systemd_notifier.h"
#include "common/assert.h"
#include "common/log.h"
#include "common/version.h"
#include "config/config_diff.h"
#include "config/loader.h"
#include "config/reference.h"
#include "dedup/dedup_store.h"
#include "engine/engine.h"
#include "engine/engine_factory.h"
#include "engine/lifecycle.h"
#include "kafka/client_properties.h"
#include "kafka/librdkafka_topic_admin.h"
#include "kafka/topic_check.h"
#include "metrics/metrics.h"
#include "stages/stage_chain.h"

namespace sluice::app {
namespace {

constexpr int kExitFailure = 1;
constexpr int kExitConfigError = 2;  // as for a config file `sluice run` refuses
// After a stop request, the process exits within shutdown.drain_timeout plus this: the
// engine's bounded steps after the drain (outputs given up after 1 s, the final commit and
// leaving the group 3 s each) and the clients' destruction.
constexpr std::chrono::milliseconds kStopMargin{9'000};
// Once the engine returned, destroying it and stopping the admin server must take no longer.
constexpr std::chrono::milliseconds kTeardownAllowance{5'000};

// Set by signal handlers, read by the engine thread.
std::atomic<engine::Engine*> g_running_engine{nullptr};
std::atomic<ShutdownWatchdog*> g_watchdog{nullptr};
std::atomic<bool> g_stop_requested{false};
std::atomic<bool> g_reload_requested{false};

void on_stop_signal(int) {
  g_stop_requested.store(true);
  if (ShutdownWatchdog* watchdog = g_watchdog.load()) watchdog->request();
  if (engine::Engine* running = g_running_engine.load()) running->request_stop();
}

void on_reload_signal(int) { g_reload_requested.store(true); }

void install_signal_handlers() {
  struct sigaction action {};
  sigemptyset(&action.sa_mask);
  action.sa_handler = on_stop_signal;
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  action.sa_handler = on_reload_signal;
  sigaction(SIGHUP, &action, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a closed socket must surface as an error, not kill the daemon
}

void configure_logging(const config::LoggingConfig& logging) {
  bool known = false;
  log::Level level = log::parse_level(logging.level, &known);
  log::configure(logging.format == config::LogFormat::Text ? log::Format::Text : log::Format::Json, level);
}

// Where a ConfigMap mounted as a directory points its files; it is swapped atomically on an
// update. Empty when the config file is not in such a directory.
std::string configmap_data_link(const std::string& config_path) {
  if (config_path.empty()) return {};
  std::error_code error;
  std::filesystem::path link = std::filesystem::path(config_path).parent_path() / "..data";
  std::filesystem::path target = std::filesystem::read_symlink(link, error);
  return error ? std::string() : target.string();
}

// Every topic the config reads or writes exists, or is created (kafka.create_topics), before
// anything consumes. Returns 0 when ready, else the exit status, with every problem logged.
// Its client is gone when it returns, bounded by kafka.topic_check_timeout.
int check_topics(const config::Config& config) {
  std::vector<std::string> errors;
  // With create_topics the check only looks, so that what is missing is created with the
  // configured partitions; without, it asks as the producer would (see librdkafka_topic_admin.h).
  auto admin = kafka::LibrdkafkaTopicAdmin::create(
      kafka::client_properties(config.kafka, kafka::ClientRole::TopicAdmin),
      /*allow_auto_create=*/!config.kafka.create_topics, config.kafka.topic_check_timeout, errors);
  if (!admin) {
    for (const std::string& error : errors) log::error("cannot check the topics", {{"error", error}});
    return kExitFailure;
  }
  kafka::TopicCheckResult checked = kafka::check_topics(config, *admin);
  for (const std::string& topic : checked.created) log::info("created topic", {{"topic", topic}});
  for (const std::string& error : checked.errors) log::error("topic check failed", {{"error", error}});
  switch (checked.status) {
    case kafka::TopicCheckResult::Status::Ready:
      return 0;
    case kafka::TopicCheckResult::Status::ConfigError:
      return kExitConfigError;
    case kafka::TopicCheckResult::Status::BrokerFailure:
      return kExitFailure;
  }
  return kExitFailure;
}

// The daemon's side of the engine's lifecycle: systemd notifications, health for the admin
// server, and reloads. Engine thread only (apart from the atomics it shares).
class DaemonLifecycle final : public engine::LifecycleListener {
 public:
  DaemonLifecycle(std::shared_ptr<const config::Config> config, admin::HealthState& health, admin::StatusBoard& status,
                  metrics::Metrics& metrics)
      : config_(std::move(config)),
        health_(health),
        status_(status),
        metrics_(metrics),
        configmap_link_(configmap_data_link(config_->source_path)) {}

  void on_started() override {
    health_.started.store(true);
    notifier_.ready("consuming; waiting for the group to assign partitions");
    log::info("ready to consume");
  }
  void on_loop() override {
    health_.beat();
    // The store sets its health from its own threads (SQLite's writer, Redis' reconnects);
    // an atomic read per loop turn, published for /readyz.
    health_.dedup_store_failing.store(dedup_store_ != nullptr && !dedup_store_->healthy(), std::memory_order_relaxed);
    notifier_.watchdog_if_due();
  }
  // The store the engine owns; it outlives every call the engine makes to this listener.
  void watch_dedup_store(const dedup::DedupStore* store) { dedup_store_ = store; }
  void on_joined() override {
    health_.joined.store(true);
    notifier_.status("consuming");
  }
  void on_stalled(int64_t stalled) override {
    health_.stalled_partitions.store(stalled);
    notifier_.status(stalled > 0 ? std::to_string(stalled) + " partition(s) stalled" : std::string("consuming"));
  }
  void on_connectivity(bool in_group, const std::string& group_detail, bool brokers_reached,
                       const std::string& broker_detail) override {
    health_.set_connectivity(in_group, group_detail, brokers_reached, broker_detail);
  }
  void on_status(const StatusSnapshot& snapshot) override { status_.publish(snapshot); }
  void on_stopping() override {
    health_.draining.store(true);
    notifier_.stopping();
  }

  std::shared_ptr<const stages::StageResources> on_tick() override {
    bool requested = g_reload_requested.exchange(false);
    std::string link = configmap_data_link(config_->source_path);
    if (link != configmap_link_) {
      configmap_link_ = link;
      if (!link.empty()) {
        log::info("configmap updated; reloading", {{"data", link}});
        requested = true;
      }
    }
    return requested ? reload() : nullptr;
  }

  SystemdNotifier& notifier() { return notifier_; }

 private:
  // Re-reads the config file for the blocked senders, spam keywords and schemas. Any problem
  // keeps the set in force, logs every error and counts a failed reload. Other changed keys
  // (brokers, routes, timeouts, ...) take effect only at a restart: they are logged by name
  // and counted as restart_required, while the reloadable part is still applied.
  std::shared_ptr<const stages::StageResources> reload() {
    notifier_.status("reloading");
    // The same checks as start-up: a file that `sluice run` would refuse is a failed reload.
    CheckedConfig checked = load_checked_config(config_->source_path, config::process_env());
    notifier_.status("consuming");
    if (!checked.ok()) {
      for (const std::string& error : checked.loaded.errors) {
        log::error("reload failed; keeping the current set", {{"error", error}});
      }
      metrics_.counter(metrics::MetricId::ConfigReloads, {{"result", "failed"}}).Increment();
      return nullptr;
    }
    const std::string source = config_->source_path.empty() ? std::string("embedded defaults") : config_->source_path;
    // Compared with the config the daemon started with, so a change that needs a restart is
    // reported at every reload until the restart happens.
    std::string ignored;
    for (const std::string& key : config::changed_keys(*config_, *checked.loaded.config)) {
      if (config::reloadable_key(key)) continue;
      ignored += (ignored.empty() ? "" : ", ") + key;
    }
    if (!ignored.empty()) {
      log::warn("reloaded blocked senders, spam keywords and schemas; other changed keys need a restart and were "
                "not applied",
                {{"config", source}, {"restart_required", ignored}});
      metrics_.counter(metrics::MetricId::ConfigReloads, {{"result", "restart_required"}}).Increment();
      return checked.resources;
    }
    log::info("reloaded blocked senders, spam keywords and schemas", {{"config", source}});
    metrics_.counter(metrics::MetricId::ConfigReloads, {{"result", "ok"}}).Increment();
    return checked.resources;
  }

  std::shared_ptr<const config::Config> config_;
  admin::HealthState& health_;
  admin::StatusBoard& status_;
  metrics::Metrics& metrics_;
  SystemdNotifier notifier_;
  const dedup::DedupStore* dedup_store_ = nullptr;
  std::string configmap_link_;
};

}  // namespace

int run_daemon(std::shared_ptr<const config::Config> config, std::shared_ptr<const stages::StageResources> resources) {
  configure_logging(config->logging);
  log::info("starting", {{"version", SLUICE_VERSION},
                         {"config", config->source_path.empty() ? std::string("embedded defaults") : config->source_path}});
  // Handlers first: a SIGTERM during start-up must not kill the process abruptly.
  install_signal_handlers();
  ShutdownWatchdog watchdog(config->shutdown.drain_timeout, kStopMargin, kTeardownAllowance);
  g_watchdog.store(&watchdog);
  // Whichever way this function returns, the signal handler stops seeing the watchdog first.
  struct ForgetWatchdog {
    ~ForgetWatchdog() { g_watchdog.store(nullptr); }
  } forget_watchdog;
  if (g_stop_requested.load()) watchdog.request();

  metrics::Metrics metrics;
  metrics.gauge(metrics::MetricId::BuildInfo, {{"version", SLUICE_VERSION}}).Set(1);
  admin::HealthState health;
  health.beat();
  admin::StatusBoard status;

  std::unique_ptr<admin::AdminServer> admin_server;
  if (!config->admin.listen.empty()) {
    std::string error;
    admin::AdminSources sources{&metrics, &health, &status, config::render_effective_yaml(*config)};
    admin_server = admin::AdminServer::start(config->admin.listen, std::move(sources), error);
    if (!admin_server) {
      log::error("cannot start the admin server", {{"error", error}});
      return kExitFailure;
    }
    log::info("admin server listening", {{"listen", config->admin.listen}, {"port", admin_server->port()}});
  }

  SLUICE_ASSERT(resources != nullptr, "the daemon started without the stage resources its config check loaded");
  // After the admin server (a slow broker shows on /readyz as not started yet), before the
  // dedup store and the engine: nothing is opened that this would have to close.
  if (int topics_status = check_topics(*config); topics_status != 0) return topics_status;
  if (g_stop_requested.load()) {
    log::info("stopped during start-up", {{"exit_code", 0}});
    return 0;
  }
  std::vector<std::string> errors;

  dedup::DedupStorePtr dedup;
  try {
    dedup = dedup::make_dedup_store(config->pipeline.dedup);
  } catch (const std::exception& error) {
    log::error("cannot open the dedup store", {{"error", error.what()}});
    return kExitFailure;
  }

  DaemonLifecycle lifecycle(config, health, status, metrics);
  lifecycle.watch_dedup_store(dedup.get());
  engine::Engine::Parts parts;
  parts.config = config;
  parts.stage_chain = std::make_unique<stages::StageChain>(config->pipeline, resources);
  parts.dedup = std::move(dedup);
  parts.metrics = &metrics;
  parts.lifecycle = &lifecycle;
  std::unique_ptr<engine::Engine> engine = engine::make_engine(std::move(parts), errors);
  if (!engine) {
    for (const std::string& error : errors) log::error("cannot start the engine", {{"error", error}});
    return kExitFailure;
  }

  g_running_engine.store(engine.get());
  if (g_stop_requested.load()) engine->request_stop();  // a signal that came during start-up
  int exit_code = engine->run();
  watchdog.engine_returned(exit_code);
  g_running_engine.store(nullptr);
  engine.reset();
  if (admin_server) admin_server->stop();
  log::info("exited", {{"exit_code", exit_code}});
  return exit_code;
}

}  // namespace sluice::app
