#include "chaos/topology.h"

#include <algorithm>

#include "chaos/flapping_sink.h"

namespace sluice::chaos {
namespace {

using devtools::KafkaRecord;
using devtools::MixRecord;

int partitions_for(size_t bytes, int minimum) {
  return std::max(minimum, static_cast<int>((bytes + kPartitionBudget - 1) / kPartitionBudget));
}

}  // namespace

Topology plan_topology(const std::vector<MixRecord>& mix, int min_inbound_partitions, bool tiers_like_inbound) {
  std::map<std::string, size_t> inbound_bytes;
  size_t downstream_bytes = 0;
  size_t dlq_bytes = 0;
  size_t rejected_bytes = 0;
  size_t valid_bytes = 0;
  for (const MixRecord& entry : mix) {
    // Value, key, headers and ~80 bytes of record overhead.
    size_t size = entry.record.value.value_or("").size() + entry.record.key->size() + 80;
    for (const auto& [name, value] : entry.record.headers) size += name.size() + value.size() + 4;
    inbound_bytes[entry.record.topic] += size;
    switch (entry.expected) {
      case devtools::Expected::Forwarded:
      case devtools::Expected::Duplicate:
        valid_bytes += size;
        // Plus sluice-fingerprint and sluice-source headers.
        if (entry.downstream_topic == kDownstream) downstream_bytes += size + 160;
        break;
      case devtools::Expected::Filtered:
        rejected_bytes += size + 100;
        break;
      case devtools::Expected::DeadLetter:
        // The envelope escapes the value and adds ~450 bytes of fields and headers.
        dlq_bytes += size * 2 + 450;
        break;
    }
  }
  Topology topology;
  for (const std::string& topic : topology.inbound) {
    topology.partitions[topic] = partitions_for(inbound_bytes[topic], min_inbound_partitions);
  }
  // Redeliveries after kills, and the out-of-retries envelopes of valid records, on top.
  topology.partitions[kDownstream] = partitions_for(downstream_bytes * 3 / 2, 2);
  topology.partitions[kDlq] = partitions_for(dlq_bytes * 3 / 2 + valid_bytes / 4, 2);
  topology.partitions[kRejected] = partitions_for(rejected_bytes * 3 / 2, 1);
  // A tier may receive a good share of the valid records (every record in flight when a
  // sink times out goes there), so each gets room for half of them.
  for (const std::string& tier : kTiers) {
    topology.tier_topics.push_back("retry." + tier);
    topology.partitions[topology.tier_topics.back()] = partitions_for(valid_bytes / 2, 2);
  }
  if (tiers_like_inbound) {
    std::vector<std::string> same = topology.inbound;
    same.insert(same.end(), topology.tier_topics.begin(), topology.tier_topics.end());
    int most = 0;
    for (const std::string& topic : same) most = std::max(most, topology.partitions[topic]);
    for (const std::string& topic : same) topology.partitions[topic] = most;
  }
  for (const auto& [name, count] : topology.partitions) topology.topics.push_back({name, count});
  return topology;
}

std::string layout(const Topology& topology) {
  std::string text;
  for (const auto& [name, count] : topology.partitions) text += " " + name + ":" + std::to_string(count);
  return text;
}

std::unique_ptr<test::DevBroker> start_broker(const Topology& topology) {
  auto broker = std::make_unique<test::DevBroker>(topology.topics, 2);
  for (const auto& [name, count] : topology.partitions) {
    for (int p = 0; p < count; ++p) {
      broker->control("leader " + name + " " + std::to_string(p) + " " + (name == kDownstream ? "2" : "1"));
    }
  }
  broker->control(std::string("coord group ") + kGroup + " 1");
  return broker;
}

test::TestConfig chaos_config(const std::string& bootstrap, const Topology& topology, const std::string& sink_url,
                              bool topic_by_key) {
  test::TestConfig config;
  config.bootstrap = bootstrap;
  config.group_id = kGroup;
  config.inbound_topics = topology.inbound;
  // A killed instance's reservations expire this soon, so its successor does not wait long
  // for records the dead one had reserved.
  config.reservation_ttl = "2s";
  config.rejected_topic = kRejected;
  config.dlq_topic = kDlq;
  config.routes_yaml = std::string("  - match: {channel: email}\n") + (topic_by_key ? "    ordering: key\n" : "") +
                       "    topic: " + kDownstream +
                       "\n"
                       "  - match: {channel: whatsapp}\n    ordering: key\n    http:\n      url: " +
                       sink_url + "\n      timeout: 1s\n      max_connections: 8\n";
  // Small batches and a small in-flight window: kills land with records in every state, and
  // a sink timeout sends a bounded number of records to a tier.
  config.batch_size = 200;
  config.max_in_flight_records = 1000;
  // Deliveries to a downed sink broker fail after 3s (a transient failure for the breaker
  // and the tiers) instead of librdkafka's five minutes.
  config.extra_kafka_properties["message.timeout.ms"] = "3000";
  std::string tiers;
  for (const std::string& tier : kTiers) tiers += (tiers.empty() ? "" : ", ") + tier;
  config.extra_yaml = "retry:\n  tiers: [" + tiers +
                      "]\ncircuit_breaker:\n  failure_threshold: 5\n  open_timeout: 1s\n  success_threshold: 2\n";
  return config;
}

bool group_caught_up(const std::string& bootstrap, const Topology& topology) {
  std::vector<std::string> topics = topology.inbound;
  // Tiers in order: a record moving from tier n to tier n+1 is in n+1 before n commits it.
  topics.insert(topics.end(), topology.tier_topics.begin(), topology.tier_topics.end());
  try {
    return devtools::group_caught_up(bootstrap, kGroup, topics);
  } catch (const std::exception&) {
    return false;
  }
}

Collected collect(const std::string& bootstrap, const Topology& topology, const FlappingSink& sink) {
  Collected collected;
  RunOutputs& outputs = collected.outputs;
  outputs.downstream_topic = kDownstream;
  outputs.downstream = devtools::read_topic(bootstrap, kDownstream);
  outputs.dead_letters = devtools::read_topic(bootstrap, kDlq);
  outputs.rejected = devtools::read_topic(bootstrap, kRejected);
  outputs.http = sink.deliveries();

  // The dev broker drops the oldest records of a partition beyond ~5 MiB: had it done so,
  // the accounting would be meaningless.
  auto check_eviction = [&](const std::string& topic, const std::vector<KafkaRecord>& records) {
    std::map<int32_t, int64_t> first;
    for (const KafkaRecord& record : records) first.try_emplace(record.partition, record.offset);
    for (const auto& [partition, offset] : first) {
      if (offset > 0) {
        collected.evicted += topic + "/" + std::to_string(partition) + " from offset " + std::to_string(offset) + "; ";
      }
    }
  };
  for (const std::string& topic : topology.inbound) {
    std::vector<KafkaRecord> records = devtools::read_topic(bootstrap, topic);
    check_eviction(topic, records);
    collected.inbound.insert(collected.inbound.end(), records.begin(), records.end());
  }
  for (const std::string& topic : topology.tier_topics) {
    std::vector<KafkaRecord> records = devtools::read_topic(bootstrap, topic);
    collected.tier_records[topic] = records.size();
    check_eviction(topic, records);
  }
  check_eviction(kDownstream, outputs.downstream);
  check_eviction(kDlq, outputs.dead_letters);
  check_eviction(kRejected, outputs.rejected);
  return collected;
}

}  // namespace sluice::chaos
