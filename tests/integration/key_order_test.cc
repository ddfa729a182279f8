// retry.ordering: key end to end: sluice consuming from the dev broker and POSTing to the
// project's HTTP test server, whose handler fails key K's first record. K's later records
// follow it through the retry tier and reach the endpoint in offset order, while records of
// another key are delivered at once; the same across a restart while K is parked; and a head
// that ends in the DLQ releases, or dead-letters, the records parked behind it.

#include <catch2/catch.hpp>

#include <rapidjson/document.h>

#include <algorithm>
#include <mutex>

#include "devtools/kafka_tools.h"
#include "devtools/message_mix.h"
#include "support/dev_broker.h"
#include "support/http_get.h"
#include "support/http_test_server.h"
#include "support/sluice_daemon.h"
#include "support/wait.h"

using namespace sluice::test;
using namespace sluice::devtools;
using namespace std::chrono_literals;

namespace {

// Every tier topic has as many partitions as the inbound topics (retry.ordering: key).
std::vector<TopicSpec> topics(const std::string& tier) {
  return {{"inbound.email", 2}, {"inbound.whatsapp", 2}, {"clean.email", 1}, {"dlq", 1}, {"retry." + tier, 2}};
}

std::string id_of(const std::string& key, int i) { return key + "-" + (i < 10 ? "0" : "") + std::to_string(i); }

KafkaRecord record_of(const std::string& key, int i) {
  KafkaRecord record;
  record.topic = "inbound.whatsapp";
  record.partition = 0;
  record.key = key;
  record.value = whatsapp_event("+15553" + std::to_string(10000 + i), "order " + id_of(key, i), "c-" + id_of(key, i));
  return record;
}

void produce(const std::string& bootstrap, const std::vector<KafkaRecord>& records) {
  RecordProducer producer(bootstrap);
  for (const KafkaRecord& record : records) producer.produce(record);
  producer.flush();
}

// k-00, then k-01, o-01, ..., k-10, o-10.
std::vector<KafkaRecord> interleaved() {
  std::vector<KafkaRecord> records = {record_of("k", 0)};
  for (int i = 1; i <= 10; ++i) {
    records.push_back(record_of("k", i));
    records.push_back(record_of("o", i));
  }
  return records;
}

// The endpoint: fails k-00 with `first` the first time and `then` after that; records every
// body it accepted, in order, with the time.
struct Endpoint {
  HttpTestServer server;
  std::mutex mutex;
  std::vector<std::pair<std::string, std::chrono::steady_clock::time_point>> accepted;  // ids
  std::optional<std::chrono::steady_clock::time_point> head_failed_at;
  int head_tries = 0;

  Endpoint(int first, int then) {
    server.set_handler([this, first, then](const ReceivedRequest& request) {
      const size_t at = request.body.find("order ");
      const std::string id = at == std::string::npos ? "?" : request.body.substr(at + 6, 4);
      std::lock_guard<std::mutex> lock(mutex);
      HttpTestResponse response;
      if (id == "k-00") {
        head_tries += 1;
        response.status = head_tries == 1 ? first : then;
        if (!head_failed_at) head_failed_at = std::chrono::steady_clock::now();
      }
      if (response.status / 100 == 2) accepted.emplace_back(id, std::chrono::steady_clock::now());
      return response;
    });
  }
  std::vector<std::string> ids(char prefix) {
    std::lock_guard<std::mutex> lock(mutex);
    std::vector<std::string> out;
    for (const auto& [id, when] : accepted) {
      if (id[0] == prefix) out.push_back(id);
    }
    return out;
  }
  size_t count() {
    std::lock_guard<std::mutex> lock(mutex);
    return accepted.size();
  }
};

std::vector<std::string> expected(const std::string& key, int from, int to) {
  std::vector<std::string> ids;
  for (int i = from; i <= to; ++i) ids.push_back(id_of(key, i));
  return ids;
}

TestConfig key_order_config(const DevBroker& broker, const std::string& group, const std::string& url,
                            const std::string& tier = "5s", const std::string& retry_extra = "") {
  TestConfig config;
  config.bootstrap = broker.bootstrap();
  config.group_id = group;
  config.routes_yaml = "  - match: {channel: email}\n    topic: clean.email\n"
                       "  - match: {channel: whatsapp}\n    http:\n      url: " + url + "\n      timeout: 2s\n";
  config.extra_yaml = "retry:\n  tiers: [" + tier + "]\n  ordering: key\n" + retry_extra +
                      "circuit_breaker:\n  failure_threshold: 100\n";
  // A stop does not wait for the tier's records to come due.
  config.drain_timeout = "1s";
  return config;
}

// The DLQ records' sluice-error by their record's id.
std::map<std::string, std::string> dead_lettered(const std::string& bootstrap) {
  std::map<std::string, std::string> reasons;
  for (const KafkaRecord& record : read_topic(bootstrap, "dlq")) {
    rapidjson::Document envelope;
    envelope.Parse(record.value.value_or("").c_str());
    if (envelope.HasParseError() || !envelope.HasMember("original_message")) continue;
    const std::string original = envelope["original_message"].GetString();
    const size_t at = original.find("order ");
    reasons[original.substr(at + 6, 4)] = record.header("sluice-error").value_or("");
  }
  return reasons;
}

}  // namespace

TEST_CASE("retry.ordering key: a key's records follow its failed record through the tier and arrive in offset "
          "order; another key is not held by the tier's delay",
          "[integration][key_order]") {
  DevBroker broker(topics("5s"));
  Endpoint endpoint(500, 200);
  TempDir dir;
  SluiceDaemon daemon(key_order_config(broker, "key-order", endpoint.server.url()), dir);
  produce(broker.bootstrap(), interleaved());
  daemon.start();
  const bool all = wait_until([&] { return endpoint.count() >= 21; }, 60s, 50ms);
  INFO(daemon.logs());
  REQUIRE(all);
  CHECK(endpoint.ids('k') == expected("k", 0, 10));
  CHECK(endpoint.ids('o') == expected("o", 1, 10));
  {
    // o's records went while k-00 waited out the tier's 5 s.
    std::lock_guard<std::mutex> lock(endpoint.mutex);
    REQUIRE(endpoint.head_failed_at);
    for (const auto& [id, when] : endpoint.accepted) {
      if (id[0] == 'o') CHECK(when - *endpoint.head_failed_at < 4s);
    }
  }
  REQUIRE(wait_until([&] { return group_caught_up(broker.bootstrap(), "key-order", {"inbound.whatsapp", "retry.5s"}); },
                     30s, 100ms));
  REQUIRE(daemon.stop() == 0);
  // k-00 failed once; the ten behind it were parked (no attempt of their own used).
  std::vector<KafkaRecord> tier = read_topic(broker.bootstrap(), "retry.5s");
  REQUIRE(tier.size() == 11);
  CHECK(tier[0].header("sluice-retry-count") == "1");
  CHECK_FALSE(tier[0].header("sluice-parked-behind"));
  for (size_t i = 1; i < tier.size(); ++i) {
    CHECK(tier[i].key == "k");
    CHECK(tier[i].header("sluice-retry-count") == "0");
    CHECK(tier[i].header("sluice-parked-behind"));
  }
}

TEST_CASE("retry.ordering key: after a restart while a key is parked, its new records still wait behind it",
          "[integration][key_order]") {
  // The tier's delay outlasts the stop, the restart and the group's rebalance.
  DevBroker broker(topics("20s"));
  Endpoint endpoint(500, 200);
  TempDir dir;
  TestConfig config = key_order_config(broker, "key-order-restart", endpoint.server.url(), "20s");
  produce(broker.bootstrap(), interleaved());
  {
    SluiceDaemon first(config, dir);
    first.start();
    // o's records delivered and k's all in the tier: stop before the tier's delay has passed.
    const bool parked = wait_until(
        [&] { return endpoint.ids('o').size() == 10 && read_topic(broker.bootstrap(), "retry.20s").size() == 11; }, 30s,
        50ms);
    INFO(first.logs());
    REQUIRE(parked);
    REQUIRE(endpoint.ids('k').empty());
    REQUIRE(first.stop() == 0);
  }
  produce(broker.bootstrap(), {record_of("k", 11), record_of("o", 11)});
  SluiceDaemon second(config, dir);
  second.start();
  const bool all = wait_until([&] { return endpoint.count() >= 23; }, 90s, 50ms);
  INFO(second.logs());
  REQUIRE(all);
  CHECK(endpoint.ids('k') == expected("k", 0, 11));
  CHECK(endpoint.ids('o') == expected("o", 1, 11));
  // o-11 did not wait for k's tier records; k-11 did.
  std::vector<std::string> order;
  {
    std::lock_guard<std::mutex> lock(endpoint.mutex);
    for (const auto& [id, when] : endpoint.accepted) order.push_back(id);
  }
  CHECK(std::find(order.begin(), order.end(), "o-11") < std::find(order.begin(), order.end(), "k-00"));
  CHECK(second.stop() == 0);
}

TEST_CASE("retry.ordering key: a dead-lettered head releases its followers in order, or with after_dead_letter: "
          "dead_letter sends them to the DLQ",
          "[integration][key_order]") {
  for (const bool dead_letter : {false, true}) {
    DYNAMIC_SECTION((dead_letter ? "dead_letter" : "release")) {
      DevBroker broker(topics("5s"));
      Endpoint endpoint(500, 400);  // failed once, then refused as bad data
      TempDir dir;
      const std::string group = dead_letter ? "key-order-dlq" : "key-order-release";
      SluiceDaemon daemon(key_order_config(broker, group, endpoint.server.url(), "5s",
                                           dead_letter ? "  after_dead_letter: dead_letter\n" : ""),
                          dir);
      produce(broker.bootstrap(), interleaved());
      daemon.start();
      const bool done = wait_until(
          [&] { return group_caught_up(broker.bootstrap(), group, {"inbound.whatsapp", "retry.5s"}) &&
                       endpoint.ids('o').size() == 10 && dead_lettered(broker.bootstrap()).count("k-00") == 1 &&
                       (dead_letter ? dead_lettered(broker.bootstrap()).size() == 11 : endpoint.ids('k').size() == 10); },
          60s, 100ms);
      std::map<std::string, std::string> reasons = dead_lettered(broker.bootstrap());
      std::string seen;
      for (const std::string& id : endpoint.ids('k')) seen += id + " ";
      for (const auto& [id, reason] : reasons) seen += id + ":" + reason + " ";
      INFO(daemon.logs());
      INFO("k delivered and dead-lettered: " << seen << "; o delivered: " << endpoint.ids('o').size());
      if (!done) {
        std::string metrics = http_get("127.0.0.1", daemon.admin_port(), "/metrics").body;
        std::string lines;
        for (size_t at = 0; at < metrics.size();) {
          size_t end = metrics.find('\n', at);
          std::string line = metrics.substr(at, end - at);
          if (line.rfind("sluice_pipeline_outcomes", 0) == 0 || line.rfind("sluice_retry", 0) == 0 ||
              line.rfind("sluice_pipeline_records_by_step", 0) == 0 || line.rfind("sluice_consumer_lag", 0) == 0) {
            lines += line + "\n";
          }
          if (end == std::string::npos) break;
          at = end + 1;
        }
        INFO(lines);
        CHECK(false);
      }
      REQUIRE(done);
      CHECK(reasons["k-00"] == "forward_rejected");
      if (dead_letter) {
        CHECK(endpoint.ids('k').empty());
        for (int i = 1; i <= 10; ++i) CHECK(reasons[id_of("k", i)] == "predecessor_dead_lettered");
      } else {
        CHECK(endpoint.ids('k') == expected("k", 1, 10));
        CHECK(reasons.size() == 1);
      }
      CHECK(daemon.stop() == 0);
    }
  }
}
