#include "config/validate.h"

#include <algorithm>
#include <set>

namespace sluice::config {
namespace {

// librdkafka properties whose value sluice sets itself, and what to write instead.
struct OwnedProperty {
  std::string_view name;
  std::string_view instead;
};

constexpr OwnedProperty kOwnedProperties[] = {
    {"bootstrap.servers", "set kafka.brokers instead"},
    {"metadata.broker.list", "set kafka.brokers instead"},
    {"group.id", "set kafka.group_id instead"},
    {"client.id", "set kafka.client_id instead"},
    {"enable.auto.commit", "sluice commits offsets itself; tune kafka.commit_interval instead"},
    {"enable.auto.offset.store",
     "sluice stores an offset only once its message is finished; this cannot be changed"},
    {"transactional.id", "set kafka.transactional_id (with kafka.delivery: exactly_once) instead"},
};

void check_owned_properties(std::string_view map_path, const StringMap& properties, std::vector<Problem>& out) {
  for (const OwnedProperty& owned : kOwnedProperties) {
    if (properties.count(std::string(owned.name)) != 0) {
      out.push_back({std::string(map_path) + "." + std::string(owned.name),
                     "sluice owns this librdkafka property; " + std::string(owned.instead)});
    }
  }
}

}  // namespace

bool is_valid_topic_name(std::string_view name) {
  if (name.empty() || name.size() > 249 || name == "." || name == "..") return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
  });
}

std::vector<Problem> validate(const Config& config) {
  std::vector<Problem> problems;

  std::set<std::string_view> inbound;
  for (size_t i = 0; i < config.inbound.topics.size(); ++i) {
    const std::string& topic = config.inbound.topics[i];
    if (!inbound.insert(topic).second) {
      problems.push_back({"inbound.topics[" + std::to_string(i) + "]", "\"" + topic + "\" is listed twice"});
    }
  }
  auto check_not_inbound = [&](const std::string& path, const std::string& topic) {
    if (inbound.count(topic) != 0) {
      problems.push_back({path, "\"" + topic + "\" is also an inbound topic (inbound.topics); writing to it would loop"});
    }
  };

  for (size_t i = 0; i < config.routes.size(); ++i) {
    const RouteConfig& route = config.routes[i];
    std::string path = "routes[" + std::to_string(i) + "]";
    if (!route.match.channel && !route.match.message_type) {
      problems.push_back({path + ".match", "needs channel, message_type, or both"});
    }
    if (route.topic.empty() == !route.http.has_value()) {
      problems.push_back({path, route.http ? "has both a topic and an http endpoint; give it one of them"
                                           : "needs a topic or an http endpoint"});
    }
    if (!route.topic.empty()) check_not_inbound(path + ".topic", route.topic);
    if (route.http && config.kafka.delivery == DeliveryMode::ExactlyOnce) {
      problems.push_back({path + ".http",
                          "kafka.delivery is exactly_once, but an HTTP request cannot take part in a Kafka "
                          "transaction (it cannot be rolled back); use at_least_once, where every request carries "
                          "an Idempotency-Key"});
    }
    if (route.http && !route.http->url.starts_with("http://") && !route.http->url.starts_with("https://")) {
      problems.push_back({path + ".http.url", "\"" + route.http->url + "\" is not an http:// or https:// URL"});
    }
  }
  for (size_t i = 0; i < config.retry.tiers.size(); ++i) {
    std::string topic = config.retry.tier_topic(i);
    std::string path = "retry.tiers[" + std::to_string(i) + "]";
    if (!is_valid_topic_name(topic)) problems.push_back({path, "\"" + topic + "\" is not a valid Kafka topic name"});
    check_not_inbound(path, topic);
  }
  check_not_inbound("dlq.topic", config.dlq.topic);
  if (!config.pipeline.filter.rejected_topic.empty()) {
    check_not_inbound("pipeline.filter.rejected_topic", config.pipeline.filter.rejected_topic);
  }

  check_owned_properties("kafka.properties", config.kafka.properties, problems);
  check_owned_properties("kafka.consumer_properties", config.kafka.consumer_properties, problems);
  check_owned_properties("kafka.producer_properties", config.kafka.producer_properties, problems);
  return problems;
}

}  // namespace sluice::config
