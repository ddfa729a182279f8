#include "config/validate.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "config/loader.h"

namespace sluice::config {
namespace {

using Errors = std::vector<std::string>;

const EnvLookup kNoEnv = [](std::string_view) -> std::optional<std::string> { return std::nullopt; };

Errors errors_of(std::string_view yaml) { return load_string(yaml, "t.yaml", kNoEnv).errors; }

TEST_CASE("topic names follow Kafka's rule", "[config][validate]") {
  CHECK(is_valid_topic_name("clean.email"));
  CHECK(is_valid_topic_name("A-b_c.9"));
  CHECK(is_valid_topic_name(std::string(249, 'a')));
  CHECK(is_valid_topic_name("..."));
  CHECK_FALSE(is_valid_topic_name(""));
  CHECK_FALSE(is_valid_topic_name("."));
  CHECK_FALSE(is_valid_topic_name(".."));
  CHECK_FALSE(is_valid_topic_name(std::string(250, 'a')));
  CHECK_FALSE(is_valid_topic_name("a b"));
  CHECK_FALSE(is_valid_topic_name("a/b"));
  CHECK_FALSE(is_valid_topic_name("caf\xc3\xa9"));
}

TEST_CASE("writing to an inbound topic is reported as a loop", "[config][validate]") {
  CHECK(errors_of("routes:\n  - match: {channel: email}\n    topic: inbound.email\n") ==
        Errors{"t.yaml:3:12: routes[0].topic: \"inbound.email\" is also an inbound topic (inbound.topics); writing "
               "to it would loop"});
  CHECK(errors_of("dlq:\n  topic: inbound.whatsapp\n") ==
        Errors{"t.yaml:2:10: dlq.topic: \"inbound.whatsapp\" is also an inbound topic (inbound.topics); writing to "
               "it would loop"});
  CHECK(errors_of("pipeline:\n  filter:\n    rejected_topic: inbound.email\n") ==
        Errors{"t.yaml:3:21: pipeline.filter.rejected_topic: \"inbound.email\" is also an inbound topic "
               "(inbound.topics); writing to it would loop"});
}

TEST_CASE("a loop through a default value points at the nearest written key", "[config][validate]") {
  // The routes are the defaults; the inbound topics written here include one of theirs.
  CHECK(errors_of("inbound:\n  topics: [clean.email]\n") ==
        Errors{"t.yaml:1:1: routes[0].topic: \"clean.email\" is also an inbound topic (inbound.topics); writing to "
               "it would loop (a default value)"});
}

TEST_CASE("an inbound topic listed twice is reported", "[config][validate]") {
  CHECK(errors_of("inbound:\n  topics:\n    - a\n    - b\n    - a\n") ==
        Errors{"t.yaml:5:7: inbound.topics[2]: \"a\" is listed twice"});
}

TEST_CASE("librdkafka properties sluice owns are rejected with what to set instead", "[config][validate]") {
  CHECK(errors_of("kafka:\n"
                  "  properties:\n"
                  "    bootstrap.servers: a:9092\n"
                  "    enable.auto.commit: true\n"
                  "  consumer_properties:\n"
                  "    group.id: other\n"
                  "    enable.auto.offset.store: true\n"
                  "  producer_properties:\n"
                  "    client.id: p\n") ==
        Errors{
            "t.yaml:3:5: kafka.properties.bootstrap.servers: sluice owns this librdkafka property; set kafka.brokers "
            "instead",
            "t.yaml:4:5: kafka.properties.enable.auto.commit: sluice owns this librdkafka property; sluice commits "
            "offsets itself; tune kafka.commit_interval instead",
            "t.yaml:6:5: kafka.consumer_properties.group.id: sluice owns this librdkafka property; set "
            "kafka.group_id instead",
            "t.yaml:7:5: kafka.consumer_properties.enable.auto.offset.store: sluice owns this librdkafka property; "
            "sluice stores an offset only once its message is finished; this cannot be changed",
            "t.yaml:9:5: kafka.producer_properties.client.id: sluice owns this librdkafka property; set "
            "kafka.client_id instead",
        });
}

TEST_CASE("problems across keys are reported together with single-key errors", "[config][validate]") {
  Errors errors = errors_of(
      "inbound:\n"
      "  topics: [in.a, in.b]\n"
      "pipeline:\n"
      "  batch_size: -1\n"
      "routes:\n"
      "  - match: {}\n"
      "    topic: out.a\n"
      "  - match: {channel: b}\n"
      "    topic: in.b\n"
      "dlq:\n"
      "  topic: in.a\n");
  CHECK(errors == Errors{
                      "t.yaml:4:15: pipeline.batch_size: -1 is out of range 1..100000",
                      "t.yaml:6:12: routes[0].match: needs channel, message_type, or both",
                      "t.yaml:9:12: routes[1].topic: \"in.b\" is also an inbound topic (inbound.topics); writing to "
                      "it would loop",
                      "t.yaml:11:10: dlq.topic: \"in.a\" is also an inbound topic (inbound.topics); writing to it "
                      "would loop",
                  });
}

TEST_CASE("validate works on a Config built in code", "[config][validate]") {
  Config config;
  config.inbound.topics = {"in"};
  config.routes.push_back(
      RouteConfig{.match = {.channel = "c", .message_type = std::nullopt},
                  .topic = "out",
                  .http = std::nullopt,
                  .ordering = Ordering::Partition,
                  .rate_limit = std::nullopt,
                  .errors = {},
                  .error_table = {},
                  .line = 3});
  config.dlq.topic = "dlq";
  CHECK(validate(config).empty());
  config.routes[0].match.channel.reset();
  config.kafka.producer_properties["bootstrap.servers"] = "x";
  std::vector<Problem> problems = validate(config);
  REQUIRE(problems.size() == 2);
  CHECK(problems[0].path == "routes[0].match");
  CHECK(problems[1].path == "kafka.producer_properties.bootstrap.servers");
}


// One inbound topic, a DLQ, and whatsapp messages POSTed to a local endpoint.
Config config_with_http_route() {
  Config config;
  config.inbound.topics = {"in"};
  RouteConfig route;
  route.match.channel = "whatsapp";
  route.http.emplace();
  route.http->url = "http://127.0.0.1:8080/messages";
  config.routes.push_back(route);
  config.dlq.topic = "dlq";
  return config;
}

TEST_CASE("exactly_once refuses HTTP routes and says why", "[config][validate]") {
  Config config = config_with_http_route();
  config.kafka.delivery = DeliveryMode::ExactlyOnce;
  std::vector<Problem> problems = validate(config);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].path == "routes[0].http");
  CHECK(problems[0].message.find("cannot take part in a Kafka transaction") != std::string::npos);
  config.kafka.delivery = DeliveryMode::AtLeastOnce;
  CHECK(validate(config).empty());
}

TEST_CASE("a route needs exactly one of topic and http", "[config][validate]") {
  Config config;
  config.inbound.topics = {"in"};
  config.dlq.topic = "dlq";
  RouteConfig route;
  route.match.channel = "email";
  config.routes.push_back(route);
  std::vector<Problem> problems = validate(config);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].message == "needs a topic or an http endpoint");
  config.routes[0].topic = "out";
  config.routes[0].http.emplace();
  config.routes[0].http->url = "https://app/messages";
  problems = validate(config);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].message.find("has both a topic and an http endpoint") == 0);
}

TEST_CASE("value_framing confluent refuses batched HTTP routes, whose bodies join values as JSON",
          "[config][validate][framing]") {
  Config config = config_with_http_route();
  config.pipeline.value_framing = ValueFraming::Confluent;
  CHECK(validate(config).empty());  // one record per request: forwarded as it came
  config.routes[0].http->batch.emplace();
  std::vector<Problem> problems = validate(config);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].path == "routes[0].http.batch");
  CHECK(problems[0].message.find("pipeline.value_framing is confluent") != std::string::npos);
}

TEST_CASE("a topic sluice creates has at least one partition and replica, or -1 for the broker's default",
          "[config][validate][topics]") {
  Config config;
  config.inbound.topics = {"in"};
  config.dlq.topic = "dlq";
  config.kafka.new_topic_partitions = 0;
  config.kafka.new_topic_replication_factor = 0;
  std::vector<Problem> problems = validate(config);
  REQUIRE(problems.size() == 2);
  CHECK(problems[0].path == "kafka.new_topic_partitions");
  CHECK(problems[1].path == "kafka.new_topic_replication_factor");
  config.kafka.new_topic_partitions = -1;
  config.kafka.new_topic_replication_factor = 3;
  CHECK(validate(config).empty());
}

}  // namespace
}  // namespace sluice::config
