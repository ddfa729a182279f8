#include "config/validate.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "common/http_field.h"
#include "common/text.h"

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

// retry.ordering: key keeps a key's records in order through the tiers only where nothing else
// reorders them, and needs each input partition and the tier partitions with its number on one
// instance: range assignment does that when the topics have equal partition counts (checked at
// assignment, when the counts are known).
void check_retry_ordering(const Config& config, std::vector<Problem>& out) {
  if (config.retry.ordering != RetryOrdering::Key) return;
  for (size_t i = 0; i < config.routes.size(); ++i) {
    if (config.routes[i].ordering == Ordering::None) {
      out.push_back({"routes[" + std::to_string(i) + "].ordering",
                     "retry.ordering is key, but ordering none lets a key's records overtake each other; use key or "
                     "partition"});
    }
  }
  for (const auto& [path, properties] : {std::pair<std::string, const StringMap*>{"kafka.properties", &config.kafka.properties},
                                         {"kafka.consumer_properties", &config.kafka.consumer_properties}}) {
    auto it = properties->find("partition.assignment.strategy");
    if (it != properties->end() && it->second != "range") {
      out.push_back({path + ".partition.assignment.strategy",
                     "retry.ordering is key, which needs range assignment (an input partition and the tier "
                     "partitions with its number on one instance); found \"" + it->second + "\""});
    }
  }
}

}  // namespace

std::optional<int64_t> fixed_concurrency(const HttpRouteConfig& http) {
  if (http.concurrency == "adaptive") return std::nullopt;
  return text::parse_int(http.concurrency);
}

namespace {

// Checks of a route's flow limits: `concurrency` is adaptive or a count within the room the
// connections give; routes that share a destination (same topic, or same method and URL)
// share its limits, so they must not ask for different ones.
void check_flow_limits(const Config& config, std::vector<Problem>& out) {
  std::map<std::string, size_t> first_of_target;
  for (size_t i = 0; i < config.routes.size(); ++i) {
    const RouteConfig& route = config.routes[i];
    const std::string path = "routes[" + std::to_string(i) + "]";
    if (route.http) {
      const int64_t room = route.http->max_connections * route.http->pipeline_depth;
      std::optional<int64_t> fixed = fixed_concurrency(*route.http);
      if (route.http->concurrency != "adaptive" && !fixed) {
        out.push_back({path + ".http.concurrency",
                       "expected adaptive or a number of requests, found \"" + route.http->concurrency + "\""});
      } else if (fixed && (*fixed < 1 || *fixed > room)) {
        out.push_back({path + ".http.concurrency", std::to_string(*fixed) + " is out of range 1.." +
                                                       std::to_string(room) + " (max_connections × pipeline_depth)"});
      }
    }
    const std::string target = route.http ? "http " + route.http->method + " " + route.http->url : "topic " + route.topic;
    auto [first, inserted] = first_of_target.try_emplace(target, i);
    if (inserted) continue;
    const RouteConfig& other = config.routes[first->second];
    auto limits = [](const RouteConfig& r) {
      const RateLimitConfig none{};
      const RateLimitConfig& rate = r.rate_limit ? *r.rate_limit : none;
      return std::make_tuple(rate.records_per_second, rate.burst, r.http ? r.http->concurrency : std::string());
    };
    if (limits(route) != limits(other)) {
      out.push_back({path, "delivers to the same destination as routes[" + std::to_string(first->second) +
                               "], which shares its rate_limit and concurrency; give both the same ones"});
    }
    auto batch = [](const RouteConfig& r) {
      const bool batched = r.http && r.http->batch;
      const HttpBatchConfig none{};
      const HttpBatchConfig& b = batched ? *r.http->batch : none;
      return std::make_tuple(batched, b.max_records, b.max_bytes, b.linger, b.format);
    };
    if (batch(route) != batch(other)) {
      out.push_back({path + ".http.batch", "delivers to the same destination as routes[" +
                                               std::to_string(first->second) +
                                               "], which shares its batches; give both the same http.batch"});
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

std::string forward_header_problem(std::string_view entry) {
  const bool prefix = entry.ends_with('*');
  const std::string_view name = prefix ? entry.substr(0, entry.size() - 1) : entry;
  const std::string quoted = "\"" + std::string(entry) + "\"";
  if (entry.empty()) return "must not be empty";
  // "*" alone forwards every header; otherwise the part before the star must be a token.
  if (!(prefix && name.empty()) && !http::is_token(name)) {
    return quoted + " is not a header name (letters, digits and !#$%&'*+-.^_`|~) or name prefix ending in *";
  }
  if (name.find('*') != std::string_view::npos) return quoted + ": * may only end an entry, as a prefix match";
  if (name.starts_with("sluice-")) {
    return quoted + " names sluice-* headers, which are sluice's own and never sent to an endpoint";
  }
  constexpr std::string_view kSluiceHttpPrefix = "x-sluice-";
  const bool sluice_prefix = name.size() >= kSluiceHttpPrefix.size() &&
                             http::field_name_is(name.substr(0, kSluiceHttpPrefix.size()), kSluiceHttpPrefix);
  if (prefix ? sluice_prefix : http::is_route_owned_header(name)) {
    return quoted + " is a request header sluice sets itself (framing, Host, User-Agent, Content-Type, "
                    "Idempotency-Key, X-Sluice-*)";
  }
  return {};
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
    if (route.http && route.http->batch && config.pipeline.value_framing == ValueFraming::Confluent) {
      problems.push_back({path + ".http.batch",
                          "pipeline.value_framing is confluent, and a batch joins values into one JSON array or "
                          "NDJSON body, which framed values (forwarded with their binary header) would break; send "
                          "them one per request"});
    }
    if (route.http && !route.http->url.starts_with("http://") && !route.http->url.starts_with("https://")) {
      problems.push_back({path + ".http.url", "\"" + route.http->url + "\" is not an http:// or https:// URL"});
    }
    if (route.http) {
      for (size_t j = 0; j < route.http->forward_headers.size(); ++j) {
        std::string why = forward_header_problem(route.http->forward_headers[j]);
        if (!why.empty()) problems.push_back({path + ".http.forward_headers[" + std::to_string(j) + "]", std::move(why)});
      }
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

  // 0 partitions or replicas is no topic; -1 leaves the count to the broker.
  if (config.kafka.new_topic_partitions == 0) {
    problems.push_back({"kafka.new_topic_partitions", "must be at least 1, or -1 for the broker's default"});
  }
  if (config.kafka.new_topic_replication_factor == 0) {
    problems.push_back({"kafka.new_topic_replication_factor", "must be at least 1, or -1 for the broker's default"});
  }

  check_flow_limits(config, problems);
  check_retry_ordering(config, problems);
  check_owned_properties("kafka.properties", config.kafka.properties, problems);
  check_owned_properties("kafka.consumer_properties", config.kafka.consumer_properties, problems);
  check_owned_properties("kafka.producer_properties", config.kafka.producer_properties, problems);
  return problems;
}

}  // namespace sluice::config
