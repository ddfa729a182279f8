// The start-up topic check over a fake cluster: which topics it asks for, what it reports
// missing, what it creates and with how many partitions, and what a refusal or a silent
// cluster becomes. The dev broker (librdkafka 2.0.2's mock cluster) has no CreateTopics, so
// creation is shown here; integration/topic_check_test shows the rest against the dev broker.

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "kafka/topic_check.h"

using namespace sluice;
using kafka::CreateResult;
using kafka::DescribeResult;
using kafka::NewTopic;
using kafka::TopicCheckResult;
using kafka::TopicCreation;
using kafka::TopicState;
using Status = TopicCheckResult::Status;

namespace {

// A cluster of named topics; records every call.
class FakeTopicAdmin final : public kafka::TopicAdmin {
 public:
  std::map<std::string, int> topics;                // name → partitions
  std::map<std::string, std::string> unusable;      // name → the broker's error
  std::map<std::string, TopicCreation> refusals;    // what create() answers instead of Created
  bool reachable = true;
  bool create_answers = true;

  std::vector<std::vector<std::string>> describe_calls;
  std::vector<std::vector<NewTopic>> create_calls;

  DescribeResult describe(const std::vector<std::string>& names) override {
    describe_calls.push_back(names);
    DescribeResult result;
    if (!reachable) {
      result.error = "no metadata from the brokers within 30.0 s (_TRANSPORT)";
      return result;
    }
    result.answered = true;
    for (const std::string& name : names) {
      TopicState state;
      if (auto error = unusable.find(name); error != unusable.end()) {
        state.presence = TopicState::Presence::Unusable;
        state.detail = error->second;
      } else if (auto topic = topics.find(name); topic != topics.end()) {
        state.presence = TopicState::Presence::Present;
        state.partitions = topic->second;
      }
      result.topics[name] = state;
    }
    return result;
  }

  CreateResult create(const std::vector<NewTopic>& specs) override {
    create_calls.push_back(specs);
    CreateResult result;
    if (!create_answers) {
      result.error = "_UNSUPPORTED_FEATURE: Topic Admin API (KIP-4) not supported by broker";
      return result;
    }
    result.answered = true;
    for (const NewTopic& spec : specs) {
      if (auto refusal = refusals.find(spec.name); refusal != refusals.end()) {
        result.topics[spec.name] = refusal->second;
        continue;
      }
      topics[spec.name] = spec.partitions;
      result.topics[spec.name] = {TopicCreation::Result::Created, ""};
    }
    return result;
  }
};

config::Config sample_config() {
  config::Config config;
  config.kafka.brokers = "127.0.0.1:9092";
  config.inbound.topics = {"in.email", "in.chat"};
  config.retry.topic_prefix = "retry";
  config.retry.tiers = {config::Duration(10'000), config::Duration(1'500)};
  config::RouteConfig to_topic;
  to_topic.topic = "out.email";
  config::RouteConfig to_http;
  to_http.http = config::HttpRouteConfig{};
  config::RouteConfig same_topic;
  same_topic.topic = "out.email";
  config.routes = {to_topic, to_http, same_topic};
  config.pipeline.filter.rejected_topic = "rejected";
  config.dlq.topic = "dlq";
  return config;
}

const std::vector<std::string> kAll = {"in.email", "in.chat", "retry.10s", "retry.1500ms", "out.email", "rejected",
                                       "dlq"};

FakeTopicAdmin cluster_with(const std::vector<std::string>& names, int partitions = 3) {
  FakeTopicAdmin admin;
  for (const std::string& name : names) admin.topics[name] = partitions;
  return admin;
}

std::vector<std::string> without(std::vector<std::string> names, const std::vector<std::string>& removed) {
  std::erase_if(names, [&](const std::string& name) {
    return std::find(removed.begin(), removed.end(), name) != removed.end();
  });
  return names;
}

}  // namespace

TEST_CASE("topic check: every topic read or written is asked for once, HTTP routes and empty names left out",
          "[kafka][topic_check]") {
  CHECK(kafka::needed_topics(sample_config()) == kAll);
  config::Config config = sample_config();
  config.pipeline.filter.rejected_topic.clear();
  CHECK(kafka::needed_topics(config) == without(kAll, {"rejected"}));
}

TEST_CASE("topic check: all topics present is ready, and nothing is created", "[kafka][topic_check]") {
  FakeTopicAdmin admin = cluster_with(kAll);
  TopicCheckResult result = kafka::check_topics(sample_config(), admin);
  CHECK(result.status == Status::Ready);
  CHECK(result.errors.empty());
  REQUIRE(admin.describe_calls.size() == 1);
  CHECK(admin.describe_calls[0] == kAll);
  CHECK(admin.create_calls.empty());
}

TEST_CASE("topic check: several missing topics are one error naming every one", "[kafka][topic_check]") {
  FakeTopicAdmin admin = cluster_with(without(kAll, {"retry.1500ms", "dlq", "in.chat"}));
  TopicCheckResult result = kafka::check_topics(sample_config(), admin);
  CHECK(result.status == Status::ConfigError);
  REQUIRE(result.errors.size() == 1);
  CHECK(result.errors[0] ==
        "missing topics: in.chat, retry.1500ms, dlq (create them, or set kafka.create_topics: true)");
  CHECK(admin.create_calls.empty());
}

TEST_CASE("topic check: a topic the broker will not describe is named with its error", "[kafka][topic_check]") {
  FakeTopicAdmin admin = cluster_with(kAll);
  admin.unusable["rejected"] = "TOPIC_AUTHORIZATION_FAILED";
  TopicCheckResult result = kafka::check_topics(sample_config(), admin);
  CHECK(result.status == Status::ConfigError);
  CHECK(result.errors == std::vector<std::string>{"topic rejected cannot be used: TOPIC_AUTHORIZATION_FAILED"});
}

TEST_CASE("topic check: brokers that do not answer are a broker failure, not a config error", "[kafka][topic_check]") {
  FakeTopicAdmin admin;
  admin.reachable = false;
  TopicCheckResult result = kafka::check_topics(sample_config(), admin);
  CHECK(result.status == Status::BrokerFailure);
  REQUIRE(result.errors.size() == 1);
  CHECK(result.errors[0] ==
        "cannot read the topics from kafka.brokers (127.0.0.1:9092): no metadata from the brokers within 30.0 s "
        "(_TRANSPORT)");
}

TEST_CASE("topic check: create_topics creates exactly the missing ones, with the configured partitions and replicas",
          "[kafka][topic_check]") {
  config::Config config = sample_config();
  config.kafka.create_topics = true;
  config.kafka.new_topic_partitions = 6;
  config.kafka.new_topic_replication_factor = 3;
  FakeTopicAdmin admin = cluster_with(without(kAll, {"retry.10s", "dlq"}));
  TopicCheckResult result = kafka::check_topics(config, admin);
  CHECK(result.status == Status::Ready);
  CHECK(result.errors.empty());
  CHECK(result.created == std::vector<std::string>{"retry.10s", "dlq"});
  REQUIRE(admin.create_calls.size() == 1);
  const std::vector<NewTopic>& asked = admin.create_calls[0];
  REQUIRE(asked.size() == 2);
  CHECK(asked[0].name == "retry.10s");
  CHECK(asked[0].partitions == 6);
  CHECK(asked[0].replication_factor == 3);
  CHECK(asked[1].name == "dlq");
  CHECK(asked[1].partitions == 6);
  CHECK(asked[1].replication_factor == 3);
}

TEST_CASE("topic check: under retry.ordering key, created tiers get the partition count of the inbound topic with the "
          "most", "[kafka][topic_check]") {
  config::Config config = sample_config();
  config.kafka.create_topics = true;
  config.kafka.new_topic_partitions = 1;
  config.retry.ordering = config::RetryOrdering::Key;
  FakeTopicAdmin admin = cluster_with(without(kAll, {"retry.10s", "retry.1500ms", "dlq"}), 8);
  admin.topics["in.email"] = 5;  // fewer than in.chat's 8
  TopicCheckResult result = kafka::check_topics(config, admin);
  CHECK(result.status == Status::Ready);
  REQUIRE(admin.create_calls.size() == 1);
  const std::vector<NewTopic>& asked = admin.create_calls[0];
  REQUIRE(asked.size() == 3);
  CHECK(asked[0].name == "retry.10s");
  CHECK(asked[0].partitions == 8);
  CHECK(asked[1].name == "retry.1500ms");
  CHECK(asked[1].partitions == 8);
  CHECK(asked[2].name == "dlq");
  CHECK(asked[2].partitions == 1);  // not a tier: the configured count
}

TEST_CASE("topic check: under retry.ordering key, a tier with another partition count than the largest inbound topic "
          "is refused at start", "[kafka][topic_check]") {
  config::Config config = sample_config();
  config.retry.ordering = config::RetryOrdering::Key;
  FakeTopicAdmin admin = cluster_with(kAll, 4);
  admin.topics["in.chat"] = 3;  // inbound topics may differ; the tiers follow the largest
  admin.topics["retry.1500ms"] = 2;
  TopicCheckResult result = kafka::check_topics(config, admin);
  CHECK(result.status == Status::ConfigError);
  CHECK(result.errors == std::vector<std::string>{
                             "retry.ordering is key, which needs every retry tier topic with as many partitions as "
                             "the inbound topic with the most (4); found retry.1500ms 2"});
  config.retry.ordering = config::RetryOrdering::None;  // then partition counts are free
  CHECK(kafka::check_topics(config, admin).status == Status::Ready);
  // A tier the broker has only just auto-created reports no partitions yet: not compared.
  config.retry.ordering = config::RetryOrdering::Key;
  admin.topics["retry.1500ms"] = 0;
  CHECK(kafka::check_topics(config, admin).status == Status::Ready);
}

TEST_CASE("topic check: a topic created meanwhile by someone else counts as there; a refused one is named",
          "[kafka][topic_check]") {
  config::Config config = sample_config();
  config.kafka.create_topics = true;
  FakeTopicAdmin admin = cluster_with(without(kAll, {"out.email", "rejected", "dlq"}));
  admin.refusals["out.email"] = {TopicCreation::Result::AlreadyExists, ""};
  admin.refusals["dlq"] = {TopicCreation::Result::Refused, "POLICY_VIOLATION: replication factor below 3"};
  TopicCheckResult result = kafka::check_topics(config, admin);
  CHECK(result.status == Status::ConfigError);
  CHECK(result.created == std::vector<std::string>{"rejected"});
  CHECK(result.errors ==
        std::vector<std::string>{"cannot create topic dlq: POLICY_VIOLATION: replication factor below 3"});
}

TEST_CASE("topic check: a broker without CreateTopics is a broker failure naming what was to be created",
          "[kafka][topic_check]") {
  config::Config config = sample_config();
  config.kafka.create_topics = true;
  FakeTopicAdmin admin = cluster_with(without(kAll, {"dlq"}));
  admin.create_answers = false;
  TopicCheckResult result = kafka::check_topics(config, admin);
  CHECK(result.status == Status::BrokerFailure);
  CHECK(result.errors == std::vector<std::string>{"cannot create the missing topics dlq: _UNSUPPORTED_FEATURE: Topic "
                                                  "Admin API (KIP-4) not supported by broker"});
}
