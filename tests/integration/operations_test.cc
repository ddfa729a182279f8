// Operating sluice: the admin endpoints, a real Prometheus scraping them, readiness through
// the daemon's life, stalled partitions, SIGHUP reloads and systemd notifications.

#include <catch2/catch.hpp>

#include <rapidjson/document.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "devtools/kafka_tools.h"
#include "devtools/message_mix.h"
#include "support/dev_broker.h"
#include "support/http_get.h"
#include "support/http_test_server.h"
#include "support/process.h"
#include "support/sluice_daemon.h"
#include "support/wait.h"

using namespace sluice::test;
using namespace sluice::devtools;
using namespace std::chrono_literals;

namespace {

const std::vector<std::string> kInboundTopics = {"inbound.email", "inbound.whatsapp"};

const std::vector<TopicSpec> kTopics = {{"inbound.email", 2}, {"inbound.whatsapp", 2}, {"clean.email", 1},
                                        {"clean.whatsapp", 1}, {"dlq", 1}};

uint16_t free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t size = sizeof address;
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
  close(fd);
  return ntohs(address.sin_port);
}

int status_of(uint16_t port, const std::string& target) { return http_get("127.0.0.1", port, target).status; }

void send(const std::string& bootstrap, const std::string& key, const std::string& value) {
  RecordProducer producer(bootstrap);
  KafkaRecord record;
  record.topic = "inbound.email";
  record.key = key;
  record.value = value;
  producer.produce(record);
  producer.flush();
}

// The keys of every record in `topic`.
std::set<std::string> keys_in(const std::string& bootstrap, const std::string& topic) {
  std::set<std::string> keys;
  for (const KafkaRecord& record : read_topic(bootstrap, topic)) keys.insert(*record.key);
  return keys;
}

}  // namespace

TEST_CASE("a real Prometheus scraping /metrics sees outcome counters that match what was sent",
          "[integration][operations][prometheus]") {
  DevBroker broker(kTopics);
  TempDir dir;
  TestConfig config;
  config.bootstrap = broker.bootstrap();
  config.group_id = "ops-prometheus";
  SluiceDaemon daemon(config, dir);
  daemon.start();
  uint16_t admin_port = daemon.admin_port();

  uint16_t prometheus_port = free_port();
  write_file(dir.file("prometheus.yml"), "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: sluice\n"
                                         "    static_configs:\n      - targets: ['127.0.0.1:" +
                                             std::to_string(admin_port) + "']\n");
  ChildProcess prometheus({"/usr/bin/prometheus", "--config.file=" + dir.file("prometheus.yml"),
                           "--storage.tsdb.path=" + dir.file("tsdb"),
                           "--web.listen-address=127.0.0.1:" + std::to_string(prometheus_port), "--log.level=warn"},
                          dir.file("prometheus.log"), dir.file("prometheus.log"));

  MixOptions options;
  options.count = 400;
  options.seed = 11;
  std::vector<MixRecord> mix = make_mix(options);
  {
    RecordProducer producer(broker.bootstrap());
    for (const MixRecord& entry : mix) producer.produce(entry.record);
    producer.flush();
  }
  std::map<std::string, double> expected;
  std::set<std::string> groups;
  for (const MixRecord& entry : mix) {
    switch (entry.expected) {
      case Expected::Forwarded:
      case Expected::Duplicate:
        groups.insert(entry.content_group);
        expected["duplicate"] += 1;  // corrected below: all but one of each group
        break;
      case Expected::Filtered: expected["filtered"] += 1; break;
      case Expected::DeadLetter: expected["dlq"] += 1; break;
    }
  }
  expected["forwarded"] = static_cast<double>(groups.size());
  expected["duplicate"] -= static_cast<double>(groups.size());
  if (expected["duplicate"] == 0) expected.erase("duplicate");
  REQUIRE(wait_until([&] { return group_caught_up(broker.bootstrap(), config.group_id, kInboundTopics); }, 60s, 200ms));

  // Prometheus' own view, through its HTTP query API.
  std::map<std::string, double> seen;
  bool matched = wait_until([&] {
    HttpGetResult result = http_get("127.0.0.1", prometheus_port,
                                    "/api/v1/query?query=" + url_encode("sum by (outcome) (sluice_pipeline_outcomes_total)"));
    if (result.status != 200) return false;
    rapidjson::Document document;
    document.Parse(result.body.c_str());
    if (document.HasParseError() || !document.HasMember("data")) return false;
    seen.clear();
    for (const auto& series : document["data"]["result"].GetArray()) {
      // Every outcome's series exists from the start; one still at 0 saw nothing.
      const double value = std::stod(series["value"][1].GetString());
      if (value != 0) seen[series["metric"]["outcome"].GetString()] = value;
    }
    return seen == expected;
  }, 60s, 500ms);
  INFO(read_file(dir.file("prometheus.log")));
  for (const auto& [outcome, value] : expected) INFO(outcome << ": expected " << value << ", Prometheus " << seen[outcome]);
  CHECK(matched);
  HttpGetResult up = http_get("127.0.0.1", prometheus_port, "/api/v1/query?query=" + url_encode("up{job=\"sluice\"}"));
  CHECK(up.body.find("\"1\"]") != std::string::npos);

  // The exposition passes Prometheus' own linter.
  HttpGetResult metrics = http_get("127.0.0.1", admin_port, "/metrics");
  REQUIRE(metrics.status == 200);
  write_file(dir.file("metrics.txt"), metrics.body);
  std::string lint;
  int lint_status = run_command({"/bin/sh", "-c", "promtool check metrics < " + dir.file("metrics.txt") + " 2>&1"}, &lint);
  INFO(lint);
  CHECK(lint_status == 0);
  CHECK(lint.empty());
  REQUIRE(daemon.stop() == 0);
}

TEST_CASE("/readyz is 503 before the group join and while draining, 200 in between, and /livez stays 200",
          "[integration][operations][health]") {
  DevBroker broker({{"inbound.email", 1}, {"inbound.whatsapp", 1}, {"clean.email", 1}, {"clean.whatsapp", 1},
                    {"dlq", 1}});
  HttpTestServer server;
  std::atomic<bool> slow{false};
  server.set_handler([&](const ReceivedRequest&) {
    HttpTestResponse response;
    if (slow.load()) response.delay = 3s;
    return response;
  });
  TempDir dir;
  TestConfig config;
  config.bootstrap = broker.bootstrap();
  config.group_id = "ops-ready";
  config.routes_yaml = "  - match: {channel: email}\n    http:\n      url: " + server.url() + "\n      timeout: 20s\n";
  SluiceDaemon daemon(config, dir);
  daemon.start();
  uint16_t port = daemon.admin_port();
  CHECK(status_of(port, "/readyz") == 503);  // the first group join takes seconds
  CHECK(status_of(port, "/livez") == 200);
  CHECK(status_of(port, "/healthz") == 200);
  CHECK(status_of(port, "/nope") == 404);
  REQUIRE(wait_until([&] { return status_of(port, "/readyz") == 200; }, 30s, 100ms));
  CHECK(http_get("127.0.0.1", port, "/readyz?verbose").body.find("[+]group joined ok") != std::string::npos);

  // A delivery in flight keeps the drain going for a while after SIGTERM.
  slow.store(true);
  send(broker.bootstrap(), "slow", email_event("sue@example.com", "take your time", "c-slow"));
  REQUIRE(wait_until([&] { return server.request_count() == 1; }, 30s, 20ms));
  std::thread stopper([&] { CHECK(daemon.stop() == 0); });
  bool draining_seen = wait_until([&] { return status_of(port, "/readyz") == 503; }, 10s, 20ms);
  CHECK(draining_seen);
  CHECK(status_of(port, "/livez") == 200);  // still alive while it drains
  stopper.join();
  CHECK(daemon.logs().find("\"msg\":\"draining\"") != std::string::npos);
}

TEST_CASE("a partition without progress turns /readyz 503 and is logged once, and progress makes it ready again",
          "[integration][operations][health]") {
  DevBroker broker({{"inbound.email", 1}, {"inbound.whatsapp", 1}, {"clean.email", 1}, {"clean.whatsapp", 1},
                    {"dlq", 1}});
  HttpTestServer server;
  std::atomic<int> requests{0};
  server.set_handler([&](const ReceivedRequest&) {
    HttpTestResponse response;
    if (requests.fetch_add(1) == 0) response.delay = 6s;  // holds the partition's first record
    return response;
  });
  TempDir dir;
  TestConfig config;
  config.bootstrap = broker.bootstrap();
  config.group_id = "ops-stall";
  config.stall_timeout = "2s";
  config.routes_yaml = "  - match: {channel: email}\n    http:\n      url: " + server.url() + "\n      timeout: 20s\n";
  SluiceDaemon daemon(config, dir);
  daemon.start();
  uint16_t port = daemon.admin_port();
  REQUIRE(wait_until([&] { return status_of(port, "/readyz") == 200; }, 30s, 100ms));
  send(broker.bootstrap(), "held", email_event("hal@example.com", "held up", "c-held"));
  bool stalled = wait_until([&] { return status_of(port, "/readyz") == 503; }, 15s, 100ms);
  INFO(daemon.logs());
  REQUIRE(stalled);
  CHECK(http_get("127.0.0.1", port, "/readyz?verbose").body.find("1 stalled") != std::string::npos);
  CHECK(status_of(port, "/livez") == 200);
  REQUIRE(wait_until([&] { return status_of(port, "/readyz") == 200; }, 20s, 100ms));
  REQUIRE(daemon.stop() == 0);
  std::string logs = daemon.logs();
  INFO(logs);
  size_t first = logs.find("partition stalled");
  REQUIRE(first != std::string::npos);
  CHECK(logs.find("partition stalled", first + 1) == std::string::npos);  // logged once
  CHECK(logs.find("partition moving again") != std::string::npos);
}

TEST_CASE("SIGHUP reloads blocked senders, and a broken schema keeps the old ones and counts a failed reload",
          "[integration][operations][reload]") {
  DevBroker broker(kTopics);
  TempDir dir;
  std::filesystem::create_directories(dir.file("schemas"));
  for (const char* name : {"email_received.json", "whatsapp_received.json"}) {
    std::filesystem::copy_file(std::string(SLUICE_SOURCE_DIR) + "/config/schemas/" + name, dir.file("schemas/") + name);
  }
  TestConfig config;
  config.bootstrap = broker.bootstrap();
  config.group_id = "ops-reload";
  config.schemas_dir = dir.file("schemas");
  SluiceDaemon daemon(config, dir);
  daemon.start();
  const std::string& bootstrap = broker.bootstrap();
  auto forwarded = [&] { return keys_in(bootstrap, "clean.email"); };
  send(bootstrap, "before", email_event("newly-blocked@example.com", "not blocked yet", "c-1"));
  REQUIRE(wait_until([&] { return forwarded().count("before") == 1; }, 60s, 100ms));

  write_file(dir.file("blocked_senders.txt"), "spammer@example.com\nnewly-blocked@example.com\n");
  daemon.reload();
  REQUIRE(wait_until([&] { return daemon.logs().find("reloaded blocked senders") != std::string::npos; }, 30s, 50ms));
  send(bootstrap, "after", email_event("newly-blocked@example.com", "blocked now", "c-2"));
  REQUIRE(wait_until([&] { return group_caught_up(bootstrap, config.group_id, kInboundTopics); }, 30s, 100ms));
  CHECK(forwarded().count("after") == 0);

  write_file(dir.file("schemas/email_received.json"), "{ this is not json");
  daemon.reload();
  REQUIRE(wait_until([&] { return daemon.logs().find("reload failed; keeping the current set") != std::string::npos; },
                     30s, 50ms));
  send(bootstrap, "still-valid", email_event("val@example.com", "old schemas still apply", "c-3"));
  REQUIRE(wait_until([&] { return forwarded().count("still-valid") == 1; }, 30s, 100ms));
  REQUIRE(daemon.stop() == 0);
  CHECK(final_counter(daemon.logs(), "sluice_config_reloads_total{result=\"ok\"}") == 1);
  CHECK(final_counter(daemon.logs(), "sluice_config_reloads_total{result=\"failed\"}") == 1);
}

TEST_CASE("under a NOTIFY_SOCKET the daemon sends READY, WATCHDOG and STOPPING", "[integration][operations][systemd]") {
  DevBroker broker(kTopics);
  TempDir dir;
  std::string socket_path = dir.file("notify.sock");
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, socket_path.c_str(), sizeof address.sun_path - 1);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  timeval timeout{0, 100'000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  std::vector<std::string> messages;
  auto receive = [&] {
    char buffer[4096];
    while (true) {
      ssize_t size = recv(fd, buffer, sizeof buffer, 0);
      if (size <= 0) break;
      messages.emplace_back(buffer, static_cast<size_t>(size));
    }
  };
  auto count = [&](const std::string& needle) {
    size_t n = 0;
    for (const std::string& message : messages) n += message.find(needle) != std::string::npos ? 1 : 0;
    return n;
  };

  TestConfig config;
  config.bootstrap = broker.bootstrap();
  config.group_id = "ops-systemd";
  SluiceDaemon daemon(config, dir);
  daemon.set_env("NOTIFY_SOCKET", socket_path);
  daemon.set_env("WATCHDOG_USEC", "400000");
  daemon.start();
  bool ready_and_pinging = wait_until([&] {
    receive();
    return count("READY=1") == 1 && count("WATCHDOG=1") >= 3;
  }, 30s, 50ms);
  INFO(daemon.logs());
  REQUIRE(ready_and_pinging);
  REQUIRE(daemon.stop() == 0);
  receive();
  close(fd);
  CHECK(count("STOPPING=1") == 1);
  size_t ready_at = 0, stopping_at = 0;
  for (size_t i = 0; i < messages.size(); ++i) {
    if (messages[i].find("READY=1") != std::string::npos) ready_at = i;
    if (messages[i].find("STOPPING=1") != std::string::npos) stopping_at = i;
  }
  CHECK(ready_at < stopping_at);
}

TEST_CASE("a reload that meets keys needing a restart names them, counts restart_required and applies the rest",
          "[integration][operations][reload]") {
  DevBroker broker(kTopics);
  TempDir dir;
  TestConfig config;
  config.bootstrap = broker.bootstrap();
  config.group_id = "ops-reload-restart";
  SluiceDaemon daemon(config, dir);
  daemon.start();
  const std::string& bootstrap = broker.bootstrap();
  auto forwarded = [&] { return keys_in(bootstrap, "clean.email"); };
  send(bootstrap, "before", email_event("soon-blocked@example.com", "not blocked yet", "r-1"));
  REQUIRE(wait_until([&] { return forwarded().count("before") == 1; }, 60s, 100ms));

  // Two keys that only a restart can apply, and one file that a reload does.
  TestConfig changed = config;
  changed.drain_timeout = "20s";
  changed.commit_interval = "300ms";
  write_file(daemon.config_path(), render_config(changed, dir.path()));
  write_file(dir.file("blocked_senders.txt"), "spammer@example.com\nsoon-blocked@example.com\n");
  daemon.reload();
  REQUIRE(wait_until([&] { return daemon.logs().find("need a restart") != std::string::npos; }, 30s, 50ms));
  CHECK(daemon.logs().find("kafka.commit_interval, shutdown.drain_timeout") != std::string::npos);
  CHECK(daemon.logs().find("\"reloaded blocked senders, spam keywords and schemas\"") == std::string::npos);

  send(bootstrap, "after", email_event("soon-blocked@example.com", "blocked now", "r-2"));
  REQUIRE(wait_until([&] { return group_caught_up(bootstrap, config.group_id, kInboundTopics); }, 30s, 100ms));
  CHECK(forwarded().count("after") == 0);
  REQUIRE(daemon.stop() == 0);
  CHECK(final_counter(daemon.logs(), "sluice_config_reloads_total{result=\"restart_required\"}") == 1);
  CHECK(final_counter(daemon.logs(), "sluice_config_reloads_total{result=\"ok\"}") == -1);
}
