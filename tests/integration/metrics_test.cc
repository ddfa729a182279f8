// /metrics of a freshly started daemon: every family of the metric table is there before any
// event (counters at 0), the exposition passes promtool, and the first failed reload moves
// sluice_config_reloads_total{result="failed"} from 0 to 1, which is what lets
// SluiceConfigReloadFailed fire (docker/prometheus/alerts_test.yml proves the rule on such a
// series).

#include <catch2/catch.hpp>

#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "support/dev_broker.h"
#include "support/http_get.h"
#include "support/process.h"
#include "support/prometheus_text.h"
#include "support/sluice_daemon.h"
#include "support/wait.h"

using namespace sluice::test;
using namespace std::chrono_literals;

namespace {

const std::vector<TopicSpec> kTopics = {{"inbound.email", 1}, {"inbound.whatsapp", 1}, {"clean.email", 1},
                                        {"dlq", 1}, {"rejected", 1}, {"retry.1s", 1}};

// Every family of the table, as `sluice metrics-reference` prints it: name → type.
std::map<std::string, std::string> table_families() {
  std::string reference;
  REQUIRE(run_command({SLUICE_BIN, "metrics-reference"}, &reference) == 0);
  std::map<std::string, std::string> families;
  const std::regex row(R"(\n\| `([a-z_]+)` \| (counter|gauge|histogram) \|)");
  for (auto it = std::sregex_iterator(reference.begin(), reference.end(), row); it != std::sregex_iterator(); ++it) {
    families[(*it)[1]] = (*it)[2];
  }
  return families;
}

// The sample names (before any '{' or ' ') of the exposition.
std::set<std::string> sample_names(const std::string& text) {
  std::set<std::string> names;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    names.insert(line.substr(0, line.find_first_of("{ ")));
  }
  return names;
}

}  // namespace

TEST_CASE("a fresh daemon exports every metric family at zero that promtool accepts and counts a failed reload from 0 to 1",
          "[integration][metrics]") {
  DevBroker broker(kTopics);
  TempDir dir;
  TestConfig config;
  config.bootstrap = broker.bootstrap();
  config.group_id = "metrics-fresh";
  config.rejected_topic = "rejected";
  // A topic route and two HTTP routes, one batched (never called: no record is sent), so
  // every per-sink family has a series.
  config.routes_yaml = "  - match: {channel: email}\n    topic: clean.email\n"
                       "  - match: {channel: whatsapp}\n    http:\n      url: http://127.0.0.1:9/hook\n"
                       "  - match: {channel: sms}\n    http: {url: \"http://127.0.0.1:9/batch\", batch: {}}\n";
  config.extra_yaml = "retry:\n  tiers: [1s]\n";
  SluiceDaemon daemon(config, dir);
  daemon.start();
  const uint16_t port = daemon.admin_port();
  REQUIRE(wait_until([&] { return daemon.logs().find("partitions assigned") != std::string::npos; }, 60s, 50ms));

  // Consumer lag appears per assigned partition once its watermarks are known (the first
  // fetch, then the once-a-second observation): awaited, everything else is there at once.
  const std::map<std::string, std::string> families = table_families();
  REQUIRE(families.size() >= 30);
  std::string text;
  std::set<std::string> samples;
  wait_until([&] {
    HttpGetResult scraped = http_get("127.0.0.1", port, "/metrics");
    text = scraped.body;
    samples = sample_names(text);
    return scraped.status == 200 && samples.contains("sluice_consumer_lag_records");
  }, 10s, 100ms);
  for (const auto& [name, type] : families) {
    INFO(name << " (" << type << ") has no sample");
    CHECK(samples.contains(type == "histogram" ? name + "_count" : name));
  }

  // The label sets known from the config and from fixed sets, at zero.
  const std::vector<std::pair<std::string, std::map<std::string, std::string>>> zeros = {
      {"sluice_config_reloads_total", {{"result", "failed"}}},
      {"sluice_config_reloads_total", {{"result", "ok"}}},
      {"sluice_dlq_envelopes_truncated_total", {}},
      {"sluice_pipeline_replayed_records_total", {{"topic", "inbound.email"}}},
      {"sluice_pipeline_replayed_records_total", {{"topic", "retry.1s"}}},
      {"sluice_pipeline_records_consumed_total", {{"topic", "inbound.whatsapp"}}},
      {"sluice_retry_tier_sends_total", {{"tier", "retry.1s"}}},
      {"sluice_route_forwarded_records_total", {{"route", "0"}, {"sink", "topic:clean.email"}}},
      {"sluice_route_forwarded_records_total", {{"route", "1"}}},
      {"sluice_producer_errors_total", {{"destination", "route"}, {"sink", "topic:clean.email"}, {"class", "transient"}}},
      {"sluice_producer_errors_total", {{"destination", "dlq"}, {"sink", "topic:dlq"}, {"class", "bad_data"}}},
      {"sluice_producer_errors_total", {{"destination", "rejected"}, {"sink", "topic:rejected"}, {"class", "transient"}}},
      {"sluice_producer_errors_total", {{"destination", "retry"}, {"sink", "topic:retry.1s"}, {"class", "transient"}}},
      {"sluice_breaker_transitions_total", {{"sink", "topic:clean.email"}, {"to", "open"}}},
      {"sluice_consumer_errors_total", {{"error", "_ALL_BROKERS_DOWN"}}},
      {"sluice_dedup_store_errors_total", {{"backend", "sqlite"}, {"operation", "flush"}}},
      {"sluice_pipeline_records_by_step", {{"step", "forwarding"}}},
      {"sluice_pipeline_step_records_total", {{"step", "waiting_on_peer"}}},
      {"sluice_pipeline_step_seconds_total", {{"step", "dead_lettering"}}},
      {"sluice_pipeline_intake_stopped_seconds_total", {}},
  };
  for (const auto& [name, labels] : zeros) {
    INFO(name << " " << labels.size() << " labels, first " << (labels.empty() ? "" : labels.begin()->second));
    CHECK(metric_value(text, name, labels) == 0);
  }
  CHECK(metric_value(text, "process_resident_memory_bytes").value_or(0) > 0);
  CHECK(metric_value(text, "process_open_fds").value_or(0) > 0);

  // Prometheus' own linter.
  write_file(dir.file("metrics.txt"), text);
  std::string lint;
  const int lint_status = run_command({"/bin/sh", "-c", "promtool check metrics < " + dir.file("metrics.txt") + " 2>&1"}, &lint);
  INFO(lint);
  CHECK(lint_status == 0);
  CHECK(lint.empty());

  // The first failed reload: the series goes from 0 to 1.
  std::filesystem::create_directories(dir.file("schemas"));
  config.schemas_dir = dir.file("schemas");
  write_file(dir.file("schemas/email_received.json"), "{ this is not json");
  write_file(daemon.config_path(), render_config(config, dir.path()));
  daemon.reload();
  bool counted = wait_until([&] {
    return metric_value(http_get("127.0.0.1", port, "/metrics").body, "sluice_config_reloads_total",
                        {{"result", "failed"}}) == 1;
  }, 30s, 50ms);
  INFO(daemon.logs());
  CHECK(counted);
  REQUIRE(daemon.stop() == 0);
}
