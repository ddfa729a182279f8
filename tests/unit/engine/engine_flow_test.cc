// The engine on fakes: the whole record flow, step by step, with every Kafka call recorded.

#include <catch2/catch.hpp>

#include "fakes/engine_harness.h"

using namespace sluice;
using namespace sluice::fakes;
using namespace std::chrono_literals;

namespace {

void produce_inputs(FakeCluster& cluster, const std::vector<std::pair<std::string, std::string>>& records,
                    int32_t partition = 0) {
  for (const auto& [key, value] : records) {
    StoredRecord record;
    record.key = key;
    record.value = value;
    cluster.append("inbound.email", partition, std::move(record));
  }
}

void topology(FakeCluster& cluster, int inbound_partitions = 1) {
  cluster.create_topic("inbound.email", inbound_partitions);
  cluster.create_topic("clean.email", 1);
  cluster.create_topic("dlq", 1);
  cluster.create_topic("retry.1s", 1);
}

std::vector<std::string> keys_in(const FakeCluster& cluster, const std::string& topic) {
  std::vector<std::string> keys;
  for (const auto& [partition, record] : cluster.committed_records(topic)) keys.push_back(record->key.value_or("-"));
  return keys;
}

}  // namespace

TEST_CASE("engine on fakes: each input reaches its outcome and the offsets of all of them are committed",
          "[engine][flow]") {
  FakeCluster cluster;
  topology(cluster);
  ManualClock clock;
  produce_inputs(cluster, {{"a", valid_email("a")}, {"b", invalid_json("b")}, {"c", spam_email("c")}, {"d", valid_email("d")}});
  EngineHarness harness(cluster, clock, harness_yaml("at_least_once", "retry:\n  tiers: [1s]\n"));
  harness.consumer().assign({{"inbound.email", 0}});
  bool committed = harness.run_until([&] { return cluster.committed_offset({"inbound.email", 0}) == 4; });
  for (const std::string& call : harness.consumer().calls) UNSCOPED_INFO("consumer: " << call);
  for (const std::string& call : harness.producer().calls) UNSCOPED_INFO("producer: " << call);
  REQUIRE(committed);
  CHECK(keys_in(cluster, "clean.email") == std::vector<std::string>{"a", "d"});
  CHECK(keys_in(cluster, "dlq") == std::vector<std::string>{"b"});
  CHECK(harness.stop() == 0);
}
