// Consumer lag while a partition is paused. sluice_consumer_lag_records is what an alert
// watches during an outage: the breaker opened, the partition paused, and records keep
// arriving. A paused partition is not fetched, so a lag computed from the high watermark that
// fetches bring back would stop rising exactly then; it must keep rising with the topic.

#include <catch2/catch.hpp>

#include <map>
#include <mutex>

#include "devtools/kafka_tools.h"
#include "devtools/message_mix.h"
#include "support/dev_broker.h"
#include "support/http_get.h"
#include "support/http_test_server.h"
#include "support/prometheus_text.h"
#include "support/sluice_daemon.h"
#include "support/wait.h"

using namespace sluice::test;
using namespace sluice::devtools;
using namespace std::chrono_literals;

namespace {

std::vector<KafkaRecord> whatsapp_records(int count, const std::string& prefix) {
  std::vector<KafkaRecord> records;
  for (int i = 0; i < count; ++i) {
    KafkaRecord record;
    record.topic = "inbound.whatsapp";
    record.partition = 0;
    record.key = prefix + "-key-" + std::to_string(i);
    record.value = whatsapp_event("+1555320" + std::to_string(1000 + i), prefix + " lag message " + std::to_string(i),
                                  prefix + "-c-" + std::to_string(i));
    records.push_back(record);
  }
  return records;
}

void produce(const std::string& bootstrap, const std::vector<KafkaRecord>& records) {
  RecordProducer producer(bootstrap);
  for (const KafkaRecord& record : records) producer.produce(record);
  producer.flush();
}

// A metric's current value from the daemon's /metrics; -1 when it is not there (yet).
double scrape(uint16_t admin_port, const std::string& name, const std::map<std::string, std::string>& labels = {}) {
  HttpGetResult result = http_get("127.0.0.1", admin_port, "/metrics");
  if (result.status != 200) return -1;
  return metric_value(result.body, name, labels).value_or(-1);
}

}  // namespace

TEST_CASE("consumer lag keeps rising while a partition is paused by an open breaker, and returns to 0 after recovery",
          "[integration][lag][breaker]") {
  DevBroker broker({{"inbound.email", 1}, {"inbound.whatsapp", 1}, {"clean.email", 1}, {"dlq", 1}, {"retry.1s", 2}});
  HttpTestServer server;
  std::mutex mutex;
  std::map<std::string, int> delivered;
  server.set_handler([&](const ReceivedRequest& request) {
    std::lock_guard<std::mutex> lock(mutex);
    delivered[request.body] += 1;
    return HttpTestResponse{};
  });
  auto delivered_count = [&] {
    std::lock_guard<std::mutex> lock(mutex);
    return delivered.size();
  };
  TempDir dir;
  TestConfig config;
  config.bootstrap = broker.bootstrap();
  config.group_id = "lag-paused";
  config.routes_yaml = "  - match: {channel: email}\n    topic: clean.email\n"
                       "  - match: {channel: whatsapp}\n    http:\n      url: " +
                       server.url() + "\n      timeout: 2s\n";
  config.extra_yaml = "retry:\n  tiers: [1s]\ncircuit_breaker:\n  failure_threshold: 3\n  open_timeout: 2s\n"
                      "  success_threshold: 1\n";
  SluiceDaemon daemon(config, dir);
  daemon.start();
  const uint16_t admin = daemon.admin_port();
  const std::map<std::string, std::string> partition = {{"topic", "inbound.whatsapp"}, {"partition", "0"}};
  const std::string lag = "sluice_consumer_lag_records";

  // Flowing: delivered and committed, lag 0.
  auto before = whatsapp_records(20, "before");
  produce(broker.bootstrap(), before);
  REQUIRE(wait_until([&] { return delivered_count() == before.size(); }, 60s, 50ms));
  REQUIRE(wait_until([&] { return scrape(admin, lag, partition) == 0; }, 30s, 200ms));

  // The application goes away (connections refused); a few records open the breaker, and the
  // records waiting for it keep their partition paused.
  server.stop();
  auto trigger = whatsapp_records(10, "trigger");
  produce(broker.bootstrap(), trigger);
  const std::string sink = "http:" + server.url();
  bool paused = wait_until(
      [&] {
        return scrape(admin, "sluice_breaker_transitions_total", {{"sink", sink}, {"to", "open"}}) >= 1 &&
               scrape(admin, "sluice_breaker_state", {{"sink", sink}}) >= 1 &&  // open or half-open
               scrape(admin, "sluice_consumer_paused_partitions") >= 1;
      },
      30s, 100ms);
  INFO(daemon.logs());
  REQUIRE(paused);
  const double lag_at_pause = scrape(admin, lag, partition);

  // 200 more records arrive on the paused partition. None of them can be delivered, so the
  // committed position stays where it was and the lag must grow by at least that much.
  auto during = whatsapp_records(200, "during");
  produce(broker.bootstrap(), during);
  double lag_now = -1;
  bool rising = wait_until(
      [&] {
        lag_now = scrape(admin, lag, partition);
        return lag_now >= 200;
      },
      15s, 200ms);
  {
    INFO("lag when the partition paused: " << lag_at_pause << "; 15 s after 200 more records: " << lag_now
                                           << " (want >= 200)");
    CHECK(rising);
  }

  // The application is back: everything arrives once, and the lag returns to 0.
  server.start();
  const size_t total = before.size() + trigger.size() + during.size();
  REQUIRE(wait_until([&] { return delivered_count() == total; }, 60s, 100ms));
  REQUIRE(wait_until(
      [&] { return group_caught_up(broker.bootstrap(), "lag-paused", {"inbound.whatsapp", "retry.1s"}); }, 30s, 100ms));
  CHECK(wait_until([&] { return scrape(admin, lag, partition) == 0; }, 15s, 200ms));
  REQUIRE(daemon.stop() == 0);
  CHECK(read_topic(broker.bootstrap(), "dlq").empty());
  std::lock_guard<std::mutex> lock(mutex);
  size_t not_once = 0;
  for (const auto& [body, count] : delivered) not_once += count == 1 ? 0 : 1;
  CHECK(not_once == 0);
}
