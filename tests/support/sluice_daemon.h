#pragma once
// Runs `sluice run` as a separate process for integration tests, with a config file written
// from TestConfig, and stops it the way a supervisor would (SIGTERM) or kills it (SIGKILL).

#include <chrono>
#include <map>
#include <memory>
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
  std::string rejected_topic;
  std::string blocked_senders = "spammer@example.com\nbad-actor@example.org\n+15550000666\n";
  std::string routes_yaml =
      "  - match: {channel: email}\n    topic: clean.email\n"
      "  - match: {channel: whatsapp}\n    topic: clean.whatsapp\n";
  std::string dlq_topic = "dlq";
  std::string drain_timeout = "25s";
  std::string commit_interval = "200ms";
  int batch_size = 1000;
  int max_in_flight_records = 20000;
  std::map<std::string, std::string> extra_kafka_properties;
  std::string extra_yaml;  // appended verbatim at the end of the file
};

// The YAML text for `config`, with paths inside `dir`.
std::string render_config(const TestConfig& config, const std::string& dir);

class SluiceDaemon {
 public:
  SluiceDaemon(const TestConfig& config, const TempDir& dir, const std::string& name = "sluice");
  ~SluiceDaemon();

  void start();
  // SIGTERM, then wait for the exit; returns the exit status.
  int stop(std::chrono::milliseconds timeout = std::chrono::seconds(40));
  void kill9();
  bool running() { return process_ && process_->running(); }
  std::string logs() const;
  const std::string& config_path() const { return config_path_; }

 private:
  std::string config_path_;
  std::string log_path_;
  std::string name_;
  const TempDir& dir_;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace sluice::test
