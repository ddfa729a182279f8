#include "support/sluice_daemon.h"

#include <signal.h>

#include <stdexcept>

#include "support/wait.h"

namespace sluice::test {

std::string render_config(const TestConfig& config, const std::string& dir) {
  std::string sqlite_path = config.sqlite_path.empty() ? dir + "/dedup.db" : config.sqlite_path;
  write_file(dir + "/blocked_senders.txt", config.blocked_senders);
  std::string yaml;
  yaml += "kafka:\n";
  yaml += "  brokers: \"" + config.bootstrap + "\"\n";
  yaml += "  group_id: " + config.group_id + "\n";
  yaml += "  commit_interval: " + config.commit_interval + "\n";
  yaml += "  delivery: " + config.delivery + "\n";
  yaml += "  transactional_id: " + config.transactional_id + "\n";
  yaml += config.extra_kafka_yaml;
  yaml += "  properties:\n";
  // What the dev broker needs (its gotchas G4, G6, G11): short sessions and fetch waits.
  std::map<std::string, std::string> properties = {
      {"session.timeout.ms", "6000"},     {"heartbeat.interval.ms", "500"}, {"fetch.wait.max.ms", "10"},
      {"reconnect.backoff.max.ms", "500"}, {"topic.metadata.refresh.interval.ms", "2000"}};
  for (const auto& [name, value] : config.extra_kafka_properties) properties[name] = value;
  for (const auto& [name, value] : properties) yaml += "    " + name + ": \"" + value + "\"\n";
  yaml += "inbound:\n  topics: [";
  for (size_t i = 0; i < config.inbound_topics.size(); ++i) {
    yaml += (i > 0 ? ", " : "") + config.inbound_topics[i];
  }
  yaml += "]\n";
  yaml += "pipeline:\n";
  yaml += "  schemas_dir: " +
          (config.schemas_dir.empty() ? std::string(SLUICE_SOURCE_DIR) + "/config/schemas" : config.schemas_dir) + "\n";
  yaml += "  stall_timeout: " + config.stall_timeout + "\n";
  yaml += "  batch_size: " + std::to_string(config.batch_size) + "\n";
  yaml += std::string("  stage_thread: ") + (config.stage_thread ? "true" : "false") + "\n";
  yaml += "  max_in_flight_records: " + std::to_string(config.max_in_flight_records) + "\n";
  yaml += config.extra_pipeline_yaml;
  yaml += "  filter:\n";
  yaml += "    blocked_senders_file: " + dir + "/blocked_senders.txt\n";
  yaml += "    rejected_topic: \"" + config.rejected_topic + "\"\n";
  yaml += "  dedup:\n";
  yaml += "    backend: " + config.dedup_backend + "\n";
  yaml += "    window: " + config.dedup_window + "\n";
  yaml += "    sqlite_path: " + sqlite_path + "\n";
  yaml += "    redis_url: \"" + config.redis_url + "\"\n";
  yaml += "    on_unavailable: " + config.dedup_on_unavailable + "\n";
  yaml += "    reservation_ttl: " + config.reservation_ttl + "\n";
  yaml += "routes:\n" + config.routes_yaml;
  yaml += "dlq:\n  topic: " + config.dlq_topic + "\n";
  if (!config.dlq_format.empty()) yaml += "  format: " + config.dlq_format + "\n";
  yaml += "shutdown:\n  drain_timeout: " + config.drain_timeout + "\n";
  yaml += "logging:\n  level: " + config.log_level + "\n";
  yaml += "admin:\n  listen: \"" + config.admin_listen + "\"\n";
  if (!config.ready_broker_timeout.empty()) yaml += "  ready_broker_timeout: " + config.ready_broker_timeout + "\n";
  yaml += config.extra_yaml;
  return yaml;
}

double final_counter(const std::string& logs, const std::string& name) {
  std::string key;  // as it stands in the JSON log line: quotes escaped
  for (char c : name) {
    if (c == '"') key += '\\';
    key += c;
  }
  size_t line = logs.rfind("\"msg\":\"final counters\"");
  if (line == std::string::npos) return -1;
  size_t at = logs.find("\"" + key + "\":", line);
  if (at == std::string::npos) return -1;
  return std::stod(logs.substr(at + key.size() + 3));
}

SluiceDaemon::SluiceDaemon(const TestConfig& config, const TempDir& dir, const std::string& name)
    : config_path_(dir.file(name + ".yaml")), log_path_(dir.file(name + ".log")), name_(name), dir_(dir) {
  write_file(config_path_, render_config(config, dir.path()));
}

SluiceDaemon::~SluiceDaemon() {
  if (process_ && process_->running()) kill9();
}

void SluiceDaemon::start() {
  if (process_ && process_->running()) throw std::runtime_error("daemon already running");
  process_ = std::make_unique<ChildProcess>(std::vector<std::string>{SLUICE_BIN, "run", "--config", config_path_},
                                            log_path_, log_path_, env_);
}

void SluiceDaemon::terminate() { process_->signal(SIGTERM); }

std::optional<int> SluiceDaemon::exit_status(std::chrono::milliseconds timeout) { return process_->wait(timeout); }

int SluiceDaemon::stop(std::chrono::milliseconds timeout) {
  terminate();
  auto status = exit_status(timeout);
  if (!status) {
    process_->signal(SIGKILL);
    process_->wait(std::chrono::seconds(5));
    throw std::runtime_error(name_ + " did not stop within the timeout");
  }
  return *status;
}

void SluiceDaemon::kill9() {
  process_->signal(SIGKILL);
  process_->wait(std::chrono::seconds(10));
}

std::string SluiceDaemon::logs() const { return read_file(log_path_); }

uint16_t SluiceDaemon::admin_port() {
  uint16_t port = 0;
  bool found = wait_until([&] {
    std::string text = logs();
    size_t line = text.rfind("\"msg\":\"admin server listening\"");
    if (line == std::string::npos) return false;
    size_t at = text.find("\"port\":", line);
    if (at == std::string::npos) return false;
    port = static_cast<uint16_t>(std::stoi(text.substr(at + 7)));
    return true;
  }, std::chrono::seconds(30));
  if (!found) throw std::runtime_error(name_ + " did not report its admin port");
  return port;
}

void SluiceDaemon::reload() { process_->signal(SIGHUP); }

}  // namespace sluice::test
