// The engine on fakes: the whole record flow, step by step, with every Kafka call recorded.

#include <algorithm>

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

TEST_CASE("engine on fakes: records the broker has not acknowledged show as forwarding, and their time there "
          "counts once they are",
          "[engine][flow][steps]") {
  FakeCluster cluster;
  topology(cluster);
  ManualClock clock;
  produce_inputs(cluster, {{"a", valid_email("a")}, {"b", valid_email("b")}, {"c", valid_email("c")}});
  EngineHarness harness(cluster, clock, harness_yaml("at_least_once"));
  harness.producer().set_auto_settle(false);  // the broker answers when the test says so
  harness.consumer().assign({{"inbound.email", 0}});
  auto by_step = [&](const std::string& step) { return harness.metric("sluice_pipeline_records_by_step", {{"step", step}}); };
  auto left = [&](const std::string& step) { return harness.metric("sluice_pipeline_step_records_total", {{"step", step}}); };
  auto seconds = [&](const std::string& step) { return harness.metric("sluice_pipeline_step_seconds_total", {{"step", step}}); };

  REQUIRE(harness.run_until([&] { return harness.producer().in_flight().size() == 3; }, 100, 0ms));
  clock.advance(500ms);
  harness.step();  // published: every record waits on the broker
  CHECK(by_step("forwarding") == 3);
  CHECK(by_step("staging") == 0);
  CHECK(by_step("dedup") == 0);
  CHECK(by_step("queued") == 0);
  CHECK(left("staging") == 3);
  CHECK(left("dedup") == 3);
  CHECK(left("forwarding") == 0);
  CHECK(seconds("forwarding") == 0);

  harness.producer().settle_all();  // acknowledged; the engine hears of it at its next poll
  clock.advance(250ms);
  harness.step();
  CHECK(by_step("forwarding") == 0);
  CHECK(left("forwarding") == 3);
  CHECK(seconds("forwarding") == Approx(3 * 0.75));  // dispatched together, acknowledged 750 ms later
  CHECK(seconds("dedup") == 0);  // the dedup store answered in the round they asked
  // The budget (20 000 records) was never used up.
  CHECK(harness.metric("sluice_pipeline_intake_stopped_seconds_total") == 0);
  CHECK(harness.stop() == 0);
}

TEST_CASE("engine on fakes: the time the in-flight budget stops intake is counted, while it lasts and in all",
          "[engine][flow][steps]") {
  FakeCluster cluster;
  topology(cluster);
  ManualClock clock;
  produce_inputs(cluster, {{"a", valid_email("a")}, {"b", valid_email("b")}, {"c", valid_email("c")}});
  std::string yaml = harness_yaml("at_least_once");
  yaml.insert(yaml.find("  batch_size: 10\n"), "  max_in_flight_records: 2\n");
  EngineHarness harness(cluster, clock, yaml);
  harness.producer().set_auto_settle(false);
  harness.consumer().assign({{"inbound.email", 0}});
  auto stopped_seconds = [&] { return harness.metric("sluice_pipeline_intake_stopped_seconds_total"); };

  REQUIRE(harness.run_until([&] { return harness.producer().in_flight().size() == 2; }, 100, 0ms));
  for (int i = 0; i < 5; ++i) harness.step();
  CHECK(harness.producer().in_flight().size() == 2);  // the third record is not taken
  CHECK(stopped_seconds() == 0);
  clock.advance(2s);
  harness.step();
  CHECK(stopped_seconds() == Approx(2.0));  // still stopped: counted so far
  harness.producer().settle_all();
  clock.advance(1s);
  harness.step();  // both finish, intake resumes
  CHECK(stopped_seconds() == Approx(3.0));
  REQUIRE(harness.run_until([&] { return harness.producer().in_flight().size() == 1; }, 100, 0ms));
  clock.advance(10s);
  harness.step();
  CHECK(stopped_seconds() == Approx(3.0));  // one record in flight is within the budget
  CHECK(harness.stop() == 0);
}

TEST_CASE("engine on fakes: the fetchers are woken once each time a queue that was ahead of the engine is drained",
          "[engine][flow][fetch]") {
  FakeCluster cluster;
  topology(cluster);
  ManualClock clock;
  EngineHarness harness(cluster, clock, harness_yaml("at_least_once"));  // batch_size 10
  harness.consumer().assign({{"inbound.email", 0}});
  auto wakes = [&] {
    const auto& calls = harness.consumer().calls;
    return std::count(calls.begin(), calls.end(), "wake_fetchers");
  };
  auto add_and_finish = [&](int count, int& next) {
    std::vector<std::pair<std::string, std::string>> records;
    for (int i = 0; i < count; ++i, ++next) records.emplace_back(std::to_string(next), valid_email(std::to_string(next)));
    produce_inputs(cluster, records);
    REQUIRE(harness.run_until([&] { return cluster.committed_offset({"inbound.email", 0}) == next; }));
  };
  int next = 0;
  add_and_finish(25, next);  // full polls, then one that drains the queue
  CHECK(wakes() == 1);
  add_and_finish(3, next);  // drained by a poll with room to spare: the queue was never ahead
  CHECK(wakes() == 1);
  for (int i = 0; i < 20; ++i) harness.step();  // empty polls wake nothing
  CHECK(wakes() == 1);
  add_and_finish(12, next);
  CHECK(wakes() == 2);
  CHECK(harness.stop() == 0);
}
