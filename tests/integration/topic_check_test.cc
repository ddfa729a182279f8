// The start-up topic check against the dev broker: a missing topic stops `sluice run` with
// exit status 2 and every missing topic named; brokers that do not answer stop it with 1.
// The dev broker (librdkafka 2.0.2's mock) auto-creates every topic a Metadata request names
// and has no CreateTopics: --missing-topic makes a named topic answer UNKNOWN_TOPIC_OR_PART,
// and with kafka.create_topics sluice's CreateTopics request for exactly the missing topic is
// shown to end the start with exit 1 (the mock names no controller, so the request waits for
// one until kafka.topic_check_timeout). Creating, with the partition counts asked for, is
// covered by unit/kafka/topic_check_test.

#include <catch2/catch.hpp>

#include "support/dev_broker.h"
#include "support/sluice_daemon.h"
#include "support/wait.h"

using namespace sluice::test;
using namespace std::chrono_literals;

namespace {

// The default config's tiers (retry.tiers is [10s, 30s, 60s, 300s, 900s]).
const std::vector<TopicSpec> kPresent = {{"inbound.email", 2}, {"inbound.whatsapp", 1}, {"clean.email", 1},
                                         {"clean.whatsapp", 1}, {"retry.10s", 1},       {"retry.30s", 1},
                                         {"retry.60s", 1},      {"retry.300s", 1},      {"retry.900s", 1}};

TestConfig config_for(const DevBroker& broker) {
  TestConfig config;
  config.bootstrap = broker.bootstrap();
  config.group_id = "topic-check";
  config.dlq_topic = "dlq.absent";
  return config;
}

// Starts sluice, waits for it to end by itself, and checks that it ended before consuming,
// with `status` and `logged` in its log. Returns how long it ran.
std::chrono::steady_clock::duration expect_start_refused(const TestConfig& config, int status,
                                                         const std::string& logged) {
  TempDir dir;
  SluiceDaemon daemon(config, dir);
  auto started = std::chrono::steady_clock::now();
  daemon.start();
  std::optional<int> ended = daemon.exit_status(30s);
  auto took = std::chrono::steady_clock::now() - started;
  const std::string logs = daemon.logs();
  INFO(logs);
  REQUIRE(ended.has_value());
  CHECK(*ended == status);
  CHECK(logs.find(logged) != std::string::npos);
  CHECK(logs.find("ready to consume") == std::string::npos);  // no engine, no group
  return took;
}

}  // namespace

TEST_CASE("topic check: missing topics stop the start with exit 2, every one named", "[integration][topic_check]") {
  DevBroker broker(kPresent, 1, {"dlq.absent", "rejected.absent"});
  TestConfig config = config_for(broker);
  config.rejected_topic = "rejected.absent";
  expect_start_refused(config, 2,
                       "missing topics: rejected.absent, dlq.absent (create them, or set kafka.create_topics: true)");
}

TEST_CASE("topic check: with create_topics, sluice asks to create exactly the missing topic; the dev broker cannot, "
          "which ends the start with exit 1", "[integration][topic_check]") {
  DevBroker broker(kPresent, 1, {"dlq.absent"});
  TestConfig config = config_for(broker);
  config.extra_kafka_yaml = "  create_topics: true\n  topic_check_timeout: 2s\n";
  expect_start_refused(config, 1, "cannot create the missing topics dlq.absent: _TIMED_OUT");
}

TEST_CASE("topic check: with create_topics and every topic present, sluice runs and stops cleanly",
          "[integration][topic_check]") {
  std::vector<TopicSpec> topics = kPresent;
  topics.push_back({"dlq", 1});
  DevBroker broker(topics);
  TempDir dir;
  TestConfig config = config_for(broker);
  config.dlq_topic = "dlq";
  config.extra_kafka_yaml = "  create_topics: true\n";
  SluiceDaemon daemon(config, dir);
  daemon.start();
  bool ready = wait_until([&] { return daemon.logs().find("ready to consume") != std::string::npos; }, 30s);
  INFO(daemon.logs());
  REQUIRE(ready);
  CHECK(daemon.stop() == 0);
}

TEST_CASE("topic check: brokers that do not answer within kafka.topic_check_timeout stop the start with exit 1",
          "[integration][topic_check]") {
  TestConfig config;
  config.bootstrap = "127.0.0.1:1";  // nothing listens there
  config.group_id = "topic-check";
  config.extra_kafka_yaml = "  topic_check_timeout: 2s\n";
  auto took = expect_start_refused(
      config, 1, "cannot read the topics from kafka.brokers (127.0.0.1:1): no metadata from the brokers within 2.0 s");
  CHECK(took < 10s);
}
