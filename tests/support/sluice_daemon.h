#pragma once
// Runs `sluice run` as a separate process for integration tests, with a config file written
// from TestConfig, and stops it the way a supervisor would (SIGTERM) or kills it (SIGKILL).

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "support/process.h"
#include "support/temp_dir.h"

namespace sluice::test {

struct TestConfig {
  std::string bootstrap;
  std::string group_id = "sluice-test";
  std::vector<std::string> inbound_topics = {"inbound.email", "inbound.whatsapp"};
  std::string dedup_backend = "sqlite";
  std::string dedup_window = "24h";
  std::string sqlite_path;  // default: a file in the daemon's directory
  std::string redis_url = "redis://127.0.0.1:6379/0";
  std::string dedup_on_unavailable = "pause";
  std::string reservation_ttl = "60s";
  std::string rejected_topic;
  std::string blocked_senders = "spammer@example.com\nbad-actor@example.org\n+15550000666\n";
  std::string routes_yaml =
      "  - match: {channel: email}\n    topic: clean.email\n"
      "  - match: {channel: whatsapp}\n    topic: clean.whatsapp\n";
  std::string dlq_topic = "dlq";
  std::string dlq_format;  // dlq.format; empty: the default
  std::string drain_timeout = "25s";
  std::string commit_interval = "200ms";
  std::string delivery = "at_least_once";
  std::string transactional_id = "sluice-test";
  std::string log_level = "info";
  std::string schemas_dir;  // default: the repository's config/schemas
  std::string admin_listen = "127.0.0.1:0";  // port 0: a free one (see SluiceDaemon::admin_port)
  std::string stall_timeout = "2m";
  std::string ready_broker_timeout;  // admin.ready_broker_timeout; empty: the default
  int batch_size = 1000;
  bool stage_thread = true;
  int max_in_flight_records = 20000;
  std::map<std::string, std::string> extra_kafka_properties;
  std::string extra_kafka_yaml;  // appended verbatim to the kafka: section (two-space indent)
  std::string extra_pipeline_yaml;  // appended verbatim to the pipeline: section (two-space indent)
  std::string extra_yaml;  // appended verbatim at the end of the file
};

// The YAML text for `config`, with paths inside `dir`.
std::string render_config(const TestConfig& config, const std::string& dir);

// The value of a counter in the daemon's "final counters" log line (the last one in `logs`),
// given as `name{label="value"}`; -1 when the counter never moved.
double final_counter(const std::string& logs, const std::string& name);

class SluiceDaemon {
 public:
  SluiceDaemon(const TestConfig& config, const TempDir& dir, const std::string& name = "sluice");
  ~SluiceDaemon();

  // Environment entries added for the next start().
  void set_env(const std::string& name, const std::string& value) { env_[name] = value; }
  void start();
  // The admin server's port, from the daemon's "admin server listening" line (waits for it).
  uint16_t admin_port();
  // SIGHUP: reload blocked senders, spam keywords and schemas.
  void reload();
  // SIGTERM, then wait for the exit; returns the exit status.
  int stop(std::chrono::milliseconds timeout = std::chrono::seconds(40));
  // SIGTERM without waiting; exit_status() tells when it has exited.
  void terminate();
  // The exit status once the process has ended (waiting up to `timeout`), else nullopt.
  std::optional<int> exit_status(std::chrono::milliseconds timeout = std::chrono::milliseconds(0));
  void kill9();
  bool running() { return process_ && process_->running(); }
  pid_t pid() const { return process_ ? process_->pid() : -1; }
  std::string logs() const;
  const std::string& config_path() const { return config_path_; }

 private:
  std::string config_path_;
  std::string log_path_;
  std::string name_;
  const TempDir& dir_;
  std::unique_ptr<ChildProcess> process_;
  std::map<std::string, std::string> env_;
};

}  // namespace sluice::test
