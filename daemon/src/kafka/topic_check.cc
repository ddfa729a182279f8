#include "kafka/topic_check.h"

#include <algorithm>
#include <map>

namespace sluice::kafka {
namespace {

using Status = TopicCheckResult::Status;

std::string joined(const std::vector<std::string>& names) {
  std::string text;
  for (const std::string& name : names) text += (text.empty() ? "" : ", ") + name;
  return text;
}

bool is_tier(const config::Config& config, const std::string& name) {
  for (size_t i = 0; i < config.retry.tiers.size(); ++i) {
    if (config.retry.tier_topic(i) == name) return true;
  }
  return false;
}

// What the check learnt so far: partition counts of the topics known to exist.
using PartitionCounts = std::map<std::string, int>;

// The most partitions of an inbound topic known to exist; 0 when none is.
int most_inbound_partitions(const config::Config& config, const PartitionCounts& partitions) {
  int most = 0;
  for (const std::string& topic : config.inbound.topics) {
    if (auto count = partitions.find(topic); count != partitions.end()) most = std::max(most, count->second);
  }
  return most;
}

void create_missing(const config::Config& config, TopicAdmin& admin, const std::vector<std::string>& missing,
                    PartitionCounts& partitions, TopicCheckResult& result) {
  const int configured = static_cast<int>(config.kafka.new_topic_partitions);
  // retry.ordering: key pairs an input partition with the tier partitions of its number, so a
  // tier gets the count of the inbound topic with the most; inbound topics created here too
  // get the configured one, the same as the tiers then.
  const int most_inbound = most_inbound_partitions(config, partitions);
  const int tier_partitions = most_inbound > 0 ? most_inbound : configured;
  std::vector<NewTopic> specs;
  for (const std::string& name : missing) {
    bool tier = config.retry.ordering == config::RetryOrdering::Key && is_tier(config, name);
    specs.push_back({name, tier ? tier_partitions : configured,
                     static_cast<int>(config.kafka.new_topic_replication_factor)});
  }
  CreateResult created = admin.create(specs);
  if (!created.answered) {
    result.status = Status::BrokerFailure;
    result.errors.push_back("cannot create the missing topics " + joined(missing) + ": " + created.error);
    return;
  }
  for (const NewTopic& spec : specs) {
    auto answer = created.topics.find(spec.name);
    if (answer == created.topics.end()) {
      result.errors.push_back("topic " + spec.name + ": the broker did not answer whether it was created");
      continue;
    }
    switch (answer->second.result) {
      case TopicCreation::Result::Created:
        result.created.push_back(spec.name);
        if (spec.partitions > 0) partitions[spec.name] = spec.partitions;
        break;
      case TopicCreation::Result::AlreadyExists:  // created meanwhile, by another instance starting
        break;
      case TopicCreation::Result::Refused:
        result.errors.push_back("cannot create topic " + spec.name + ": " + answer->second.detail);
        break;
    }
  }
}

// retry.ordering: key needs every tier partition number an input partition can have, on the
// instance that has that input partition: each tier topic with as many partitions as the
// inbound topic with the most. The engine checks it again at each assignment, but a wrong count
// is known now.
void check_copartitioned(const config::Config& config, const PartitionCounts& partitions,
                         TopicCheckResult& result) {
  if (config.retry.ordering != config::RetryOrdering::Key) return;
  const int most_inbound = most_inbound_partitions(config, partitions);
  std::vector<std::string> unequal;
  for (size_t i = 0; i < config.retry.tiers.size(); ++i) {
    auto count = partitions.find(config.retry.tier_topic(i));
    if (count != partitions.end() && most_inbound > 0 && count->second != most_inbound) {
      unequal.push_back(count->first + " " + std::to_string(count->second));
    }
  }
  if (!unequal.empty()) {
    result.errors.push_back("retry.ordering is key, which needs every retry tier topic with as many partitions as "
                            "the inbound topic with the most (" + std::to_string(most_inbound) + "); found " +
                            joined(unequal));
  }
}

}  // namespace

std::vector<std::string> needed_topics(const config::Config& config) {
  std::vector<std::string> names;
  auto add = [&names](const std::string& name) {
    if (!name.empty() && std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  };
  for (const std::string& topic : config.inbound.topics) add(topic);
  for (size_t i = 0; i < config.retry.tiers.size(); ++i) add(config.retry.tier_topic(i));
  for (const config::RouteConfig& route : config.routes) add(route.topic);
  add(config.pipeline.filter.rejected_topic);
  add(config.dlq.topic);
  return names;
}

TopicCheckResult check_topics(const config::Config& config, TopicAdmin& admin) {
  TopicCheckResult result;
  const std::vector<std::string> names = needed_topics(config);
  DescribeResult described = admin.describe(names);
  if (!described.answered) {
    result.status = Status::BrokerFailure;
    result.errors.push_back("cannot read the topics from kafka.brokers (" + config.kafka.brokers +
                            "): " + described.error);
    return result;
  }
  PartitionCounts partitions;
  std::vector<std::string> missing;
  for (const std::string& name : names) {
    auto found = described.topics.find(name);
    const TopicState state = found != described.topics.end() ? found->second : TopicState{};
    switch (state.presence) {
      case TopicState::Presence::Present:
        if (state.partitions > 0) partitions[name] = state.partitions;  // else not known yet: not compared
        break;
      case TopicState::Presence::Missing:
        missing.push_back(name);
        break;
      case TopicState::Presence::Unusable:
        result.errors.push_back("topic " + name + " cannot be used: " + state.detail);
        break;
    }
  }
  if (!missing.empty() && !config.kafka.create_topics) {
    result.errors.push_back("missing topics: " + joined(missing) +
                            " (create them, or set kafka.create_topics: true)");
  } else if (!missing.empty()) {
    create_missing(config, admin, missing, partitions, result);
    if (result.status == Status::BrokerFailure) return result;
  }
  check_copartitioned(config, partitions, result);
  if (!result.errors.empty()) result.status = Status::ConfigError;
  return result;
}

}  // namespace sluice::kafka
