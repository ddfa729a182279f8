#pragma once
// What the chaos runs set up and read back: the topics (sized so the dev broker keeps all of
// them), the dev broker's layout, sluice's config, and the outputs a run left behind.

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "chaos/accounting.h"
#include "devtools/kafka_tools.h"
#include "devtools/message_mix.h"
#include "support/dev_broker.h"
#include "support/sluice_daemon.h"

namespace sluice::chaos {

class FlappingSink;

// The dev broker keeps only the newest ~5 MiB of a partition (an evicted record would look
// lost): each partition is planned for at most this many bytes, leaving room for batch
// overhead and redeliveries.
constexpr size_t kPartitionBudget = 2 * 1024 * 1024;
inline const std::vector<std::string> kTiers = {"1s", "2s", "4s", "8s"};
constexpr char kGroup[] = "sluice-chaos";
constexpr char kDownstream[] = "clean.email";
constexpr char kRejected[] = "rejected";
constexpr char kDlq[] = "dlq";

struct Topology {
  std::vector<test::TopicSpec> topics;
  std::vector<std::string> inbound = {"inbound.email", "inbound.whatsapp"};
  std::vector<std::string> tier_topics;
  std::map<std::string, int> partitions;
};

// `tiers_like_inbound`: the inbound and tier topics all have the same number of partitions
// (what retry.ordering key needs).
Topology plan_topology(const std::vector<devtools::MixRecord>& mix, int min_inbound_partitions = 4,
                       bool tiers_like_inbound = false);
// " topic:partitions" for each topic.
std::string layout(const Topology& topology);

// Two brokers: the downstream topic's partitions on broker 2, everything else (and the group
// coordinator) on broker 1, so `down 2` is a sink outage and `down 1` takes the input away.
std::unique_ptr<test::DevBroker> start_broker(const Topology& topology);

// sluice's config in both runs: a topic route (email; with `topic_by_key`, ordering key: one
// record per key at a time) and an HTTP route (WhatsApp, ordering key) to `sink_url`, short
// retry tiers, a quick breaker, small batches.
test::TestConfig chaos_config(const std::string& bootstrap, const Topology& topology, const std::string& sink_url,
                              bool topic_by_key = false);

// Every inbound and tier record committed by the group (false while the broker does not answer).
bool group_caught_up(const std::string& bootstrap, const Topology& topology);

// What a run left behind, read once every sluice has stopped.
struct Collected {
  RunOutputs outputs;
  std::vector<devtools::KafkaRecord> inbound;  // both inbound topics
  std::map<std::string, size_t> tier_records;  // records per tier topic
  std::string evicted;                         // partitions the broker trimmed, if any
};

Collected collect(const std::string& bootstrap, const Topology& topology, const FlappingSink& sink);

}  // namespace sluice::chaos
