// The admin surface against a real daemon and dev broker: /readyz follows the group and the
// brokers (503 while they are down past the session timeout, 200 once the group is rejoined),
// /status shows the assigned partitions with their lag and a destination's open breaker, and
// `sluice status` prints the same as tables.

#include <catch2/catch.hpp>
#include <rapidjson/document.h>

#include <algorithm>
#include <string>
#include <vector>

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

std::vector<TopicSpec> topics() {
  return {{"inbound.email", 1}, {"inbound.whatsapp", 2}, {"clean.email", 1}, {"clean.whatsapp", 1}, {"dlq", 1},
          {"retry.1s", 1}};
}

int status_of(uint16_t port, const std::string& target) { return http_get("127.0.0.1", port, target).status; }

void produce_whatsapp(const std::string& bootstrap, int count, const std::string& prefix) {
  RecordProducer producer(bootstrap);
  for (int i = 0; i < count; ++i) {
    KafkaRecord record;
    record.topic = "inbound.whatsapp";
    record.partition = i % 2;
    record.key = prefix + "-" + std::to_string(i);
    record.value = whatsapp_event("+1555330" + std::to_string(1000 + i), prefix + " status message " + std::to_string(i),
                                  prefix + "-c-" + std::to_string(i));
    producer.produce(record);
  }
  producer.flush();
}

}  // namespace

TEST_CASE("/readyz is 503 while the brokers are down past the session timeout and 200 again once the group is "
          "rejoined, while /livez stays 200",
          "[integration][admin][health]") {
  DevBroker broker(topics());
  TempDir dir;
  TestConfig config;
  config.bootstrap = broker.bootstrap();
  config.group_id = "admin-ready";
  config.ready_broker_timeout = "2s";
  config.extra_kafka_properties = {{"session.timeout.ms", "3000"}};
  SluiceDaemon daemon(config, dir);
  daemon.start();
  const uint16_t port = daemon.admin_port();
  REQUIRE(wait_until([&] { return status_of(port, "/readyz") == 200; }, 30s, 100ms));

  broker.control("down -1");
  bool unready = wait_until([&] { return status_of(port, "/readyz") == 503; }, 30s, 100ms);
  std::string verbose = http_get("127.0.0.1", port, "/readyz?verbose").body;
  INFO(verbose);
  INFO(daemon.logs());
  REQUIRE(unready);
  CHECK((verbose.find("[-]brokers reached failed") != std::string::npos ||
         verbose.find("[-]in group failed") != std::string::npos));
  CHECK(status_of(port, "/livez") == 200);

  broker.control("up -1");
  REQUIRE(wait_until([&] { return status_of(port, "/readyz") == 200; }, 60s, 100ms));
  std::string after = http_get("127.0.0.1", port, "/readyz?verbose").body;
  CHECK(after.find("[+]in group ok") != std::string::npos);
  CHECK(after.find("[+]brokers reached ok") != std::string::npos);
  CHECK(daemon.stop() == 0);
}

TEST_CASE("/status lists the assigned partitions with lag and an open breaker while the endpoint is down, "
          "and `sluice status` prints them",
          "[integration][admin][status]") {
  DevBroker broker(topics());
  HttpTestServer server;
  TempDir dir;
  TestConfig config;
  config.bootstrap = broker.bootstrap();
  config.group_id = "admin-status";
  config.drain_timeout = "1s";  // records wait for the open breaker: the stop gives them up
  config.routes_yaml = "  - match: {channel: email}\n    topic: clean.email\n"
                       "  - match: {channel: whatsapp}\n    http:\n      url: " +
                       server.url() + "\n      timeout: 2s\n";
  config.extra_yaml = "retry:\n  tiers: [1s]\ncircuit_breaker:\n  failure_threshold: 3\n  open_timeout: 30s\n"
                      "  success_threshold: 1\n";
  SluiceDaemon daemon(config, dir);
  daemon.start();
  const uint16_t port = daemon.admin_port();
  REQUIRE(wait_until([&] { return status_of(port, "/readyz") == 200; }, 30s, 100ms));

  server.stop();  // connections refused: the breaker opens
  produce_whatsapp(broker.bootstrap(), 20, "down");
  const std::string sink = "http:" + server.url();
  rapidjson::Document status;
  auto breaker_open_with_lag = [&] {
    HttpGetResult result = http_get("127.0.0.1", port, "/status");
    if (result.status != 200) return false;
    status.Parse(result.body.c_str());
    if (status.HasParseError()) return false;
    bool open = false;
    for (const auto& destination : status["destinations"].GetArray()) {
      if (std::string(destination["name"].GetString()) == sink) open = std::string(destination["breaker"].GetString()) == "open";
    }
    int64_t lag = 0;
    for (const auto& partition : status["partitions"].GetArray()) {
      if (partition["lag"].IsInt64()) lag += partition["lag"].GetInt64();
    }
    return open && lag > 0;
  };
  bool seen = wait_until(breaker_open_with_lag, 30s, 200ms);
  INFO(http_get("127.0.0.1", port, "/status").body);
  REQUIRE(seen);
  std::vector<std::string> partitions;
  for (const auto& partition : status["partitions"].GetArray()) {
    partitions.push_back(std::string(partition["topic"].GetString()) + "/" + std::to_string(partition["partition"].GetInt()));
  }
  std::sort(partitions.begin(), partitions.end());
  CHECK(partitions == std::vector<std::string>{"inbound.email/0", "inbound.whatsapp/0", "inbound.whatsapp/1",
                                               "retry.1s/0"});
  CHECK(std::string(status["dedup"]["backend"].GetString()) == "sqlite");

  std::string printed;
  int exit_code = run_command({SLUICE_BIN, "status", "--admin", "127.0.0.1:" + std::to_string(port)}, &printed, 10s);
  INFO(printed);
  CHECK(exit_code == 0);
  CHECK(printed.find("PARTITION") != std::string::npos);
  CHECK(printed.find("inbound.whatsapp/1") != std::string::npos);
  CHECK(printed.find("DESTINATION") != std::string::npos);
  size_t row = printed.find(sink);
  REQUIRE(row != std::string::npos);
  CHECK(printed.substr(row, printed.find('\n', row) - row).find("open") != std::string::npos);
  CHECK(printed.find("dedup sqlite (ok)") != std::string::npos);

  HttpGetResult effective = http_get("127.0.0.1", port, "/config");
  CHECK(effective.status == 200);
  CHECK(effective.body.find("group_id: admin-status") != std::string::npos);

  std::string help;
  CHECK(run_command({SLUICE_BIN, "status", "--help"}, &help) == 0);
  CHECK(help.find("usage: sluice status") != std::string::npos);
  CHECK(daemon.stop() == 0);
}
