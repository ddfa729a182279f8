// retry.ordering: key on fakes, step by step: a key's records follow its failed record through
// the tier and arrive in offset order while other keys go on at once; the parked state is
// rebuilt from the tier after a restart; a dead-lettered head releases or dead-letters its
// followers; the tier partition must sit with its input partition.

#include <algorithm>

#include <catch2/catch.hpp>

#include "fakes/engine_harness.h"

using namespace sluice;
using namespace sluice::fakes;
using namespace std::chrono_literals;

namespace {

const std::string kKeyOrder =
    "retry:\n"
    "  tiers: [10s]\n"
    "  ordering: key\n";

std::string id_of(int i, const std::string& key) { return key + "-" + (i < 10 ? "0" : "") + std::to_string(i); }

void topology(FakeCluster& cluster, int tier_partitions = 1) {
  cluster.create_topic("inbound.email", 1);
  cluster.create_topic("clean.email", 1);
  cluster.create_topic("dlq", 1);
  cluster.create_topic("retry.10s", tier_partitions);
}

void produce(FakeCluster& cluster, const std::string& key, const std::string& id) {
  StoredRecord record;
  record.key = key;
  record.value = valid_email(id);
  cluster.append("inbound.email", 0, std::move(record));
}

// k-00, then k-01, o-01, k-02, o-02, ... k-10, o-10: 21 records.
void produce_interleaved(FakeCluster& cluster) {
  produce(cluster, "k", id_of(0, "k"));
  for (int i = 1; i <= 10; ++i) {
    produce(cluster, "k", id_of(i, "k"));
    produce(cluster, "o", id_of(i, "o"));
  }
}

// The ids of `topic`'s records in offset order ("k-03", ...), from the body valid_email() wrote.
std::vector<std::string> ids_in(const FakeCluster& cluster, const std::string& topic) {
  std::vector<std::string> ids;
  for (const auto& [partition, record] : cluster.committed_records(topic)) {
    const std::string& value = record->value.value_or("");
    size_t at = value.find("hello ");
    ids.push_back(at == std::string::npos ? "?" : value.substr(at + 6, 4));
  }
  return ids;
}

std::vector<std::string> with_prefix(const std::vector<std::string>& ids, char prefix) {
  std::vector<std::string> out;
  std::copy_if(ids.begin(), ids.end(), std::back_inserter(out), [&](const std::string& id) { return id[0] == prefix; });
  return out;
}

std::vector<std::string> expected(const std::string& key, int from, int to) {
  std::vector<std::string> ids;
  for (int i = from; i <= to; ++i) ids.push_back(id_of(i, key));
  return ids;
}

bool is_record(const FakeProducer::InFlight& entry, const std::string& id) {
  return entry.record.value && entry.record.value->find("hello " + id + "\"") != std::string::npos;
}

// Fails the first forward of k-00 with a passing error, and its forwards after that with
// `then` (NO_ERROR: delivered).
void fail_head(EngineHarness& harness, rd_kafka_resp_err_t then) {
  auto tries = std::make_shared<int>(0);
  harness.producer().set_settle_policy([tries, then](const FakeProducer::InFlight& entry) -> std::optional<rd_kafka_resp_err_t> {
    if (entry.topic != "clean.email" || !is_record(entry, "k-00")) return RD_KAFKA_RESP_ERR_NO_ERROR;
    return ++*tries == 1 ? RD_KAFKA_RESP_ERR__MSG_TIMED_OUT : then;
  });
}

void assign_all(EngineHarness& harness) { harness.consumer().assign({{"inbound.email", 0}, {"retry.10s", 0}}); }

}  // namespace

TEST_CASE("retry.ordering key: a key's later records follow its failed record through the tier and arrive in offset "
          "order; other keys are not held",
          "[engine][key_order]") {
  FakeCluster cluster;
  topology(cluster);
  ManualClock clock;
  produce_interleaved(cluster);
  EngineHarness harness(cluster, clock, harness_yaml("at_least_once", kKeyOrder));
  fail_head(harness, RD_KAFKA_RESP_ERR_NO_ERROR);
  assign_all(harness);

  // Without the clock moving (the tier's delay not passed): every input finished, o's records
  // forwarded, k's all in the tier in offset order — k-00 failed, the others parked behind it.
  REQUIRE(harness.run_until([&] { return cluster.committed_offset({"inbound.email", 0}) == 21; }, 100));
  CHECK(ids_in(cluster, "clean.email") == expected("o", 1, 10));
  CHECK(ids_in(cluster, "retry.10s") == expected("k", 0, 10));
  harness.step();
  clock.advance(20ms);  // gauges are published every 10 ms
  harness.step();
  CHECK(harness.metric("sluice_retry_parked_keys") == 1);
  CHECK(harness.metric("sluice_retry_parked_records") == 11);
  CHECK(harness.metric("sluice_pipeline_outcomes_total", {{"outcome", "retry"}, {"reason", "parked_behind_key"}}) == 10);
  CHECK(harness.metric("sluice_pipeline_outcomes_total", {{"outcome", "retry"}, {"reason", "transient_error"}}) == 1);
  for (const auto& [partition, record] : cluster.committed_records("retry.10s")) {
    // A parked record used no attempt of its own.
    const bool head = record->value->find("hello k-00\"") != std::string::npos;
    auto header = [&](const std::string& name) -> std::string {
      for (const auto& [key, value] : record->headers) {
        if (key == name) return value;
      }
      return "absent";
    };
    CHECK(header("sluice-retry-count") == (head ? "1" : "0"));
    CHECK(header("sluice-parked-behind") == (head ? "absent" : "0"));
  }

  // The tier's records come back due: k's in offset order, after o's.
  REQUIRE(harness.run_until([&] { return cluster.committed_records("clean.email").size() == 21; }));
  std::vector<std::string> forwarded = ids_in(cluster, "clean.email");
  CHECK(with_prefix(forwarded, 'k') == expected("k", 0, 10));
  REQUIRE(harness.run_until([&] { return cluster.committed_offset({"retry.10s", 0}) == 11; }));
  clock.advance(20ms);
  harness.step();
  CHECK(harness.metric("sluice_retry_parked_keys") == 0);
  CHECK(harness.metric("sluice_retry_parked_records") == 0);
  CHECK(harness.stop() == 0);
}

TEST_CASE("retry.ordering none: a later record of the key overtakes the failed one (the behaviour key prevents)",
          "[engine][key_order]") {
  FakeCluster cluster;
  topology(cluster);
  ManualClock clock;
  produce_interleaved(cluster);
  EngineHarness harness(cluster, clock, harness_yaml("at_least_once", "retry:\n  tiers: [10s]\n"));
  fail_head(harness, RD_KAFKA_RESP_ERR_NO_ERROR);
  assign_all(harness);
  REQUIRE(harness.run_until([&] { return cluster.committed_records("clean.email").size() == 21; }));
  std::vector<std::string> order = with_prefix(ids_in(cluster, "clean.email"), 'k');
  CHECK(order.front() == "k-01");
  CHECK(order.back() == "k-00");
  CHECK(harness.stop() == 0);
}

TEST_CASE("retry.ordering key: after a restart the parked keys are rebuilt from the tier before new records of the "
          "key are taken",
          "[engine][key_order]") {
  FakeCluster cluster;
  topology(cluster);
  ManualClock clock;
  produce_interleaved(cluster);
  // A stop does not wait for the tier's records to come due.
  HarnessSetup setup = load_setup(harness_yaml("at_least_once", kKeyOrder + "shutdown:\n  drain_timeout: 1s\n"));
  {
    EngineHarness first(cluster, clock, setup, {});
    fail_head(first, RD_KAFKA_RESP_ERR_NO_ERROR);
    assign_all(first);
    REQUIRE(first.run_until([&] { return cluster.committed_offset({"inbound.email", 0}) == 21; }, 100));
    CHECK(first.stop() == 0);
  }
  REQUIRE(ids_in(cluster, "retry.10s") == expected("k", 0, 10));
  // While stopped: one more record of k, and one of another key.
  produce(cluster, "k", id_of(11, "k"));
  produce(cluster, "o", id_of(11, "o"));

  EngineHarness::Options options;
  options.member_id = "member-2";
  EngineHarness second(cluster, clock, setup, std::move(options));
  assign_all(second);
  // Still before any tier record is due: o-11 goes, k-11 parks behind k's records in the tier.
  REQUIRE(second.run_until([&] { return cluster.committed_offset({"inbound.email", 0}) == 23; }, 100));
  CHECK(ids_in(cluster, "clean.email") == expected("o", 1, 11));
  CHECK(ids_in(cluster, "retry.10s").back() == "k-11");
  bool paused_for_scan = false;
  for (const std::string& call : second.consumer().calls) paused_for_scan |= call.find("pause inbound.email") != std::string::npos;
  CHECK(paused_for_scan);

  REQUIRE(second.run_until([&] { return cluster.committed_records("clean.email").size() == 23; }));
  CHECK(with_prefix(ids_in(cluster, "clean.email"), 'k') == expected("k", 0, 11));
  CHECK(second.stop() == 0);
}

TEST_CASE("retry.ordering key: a dead-lettered head releases its followers in order by default", "[engine][key_order]") {
  FakeCluster cluster;
  topology(cluster);
  ManualClock clock;
  produce_interleaved(cluster);
  EngineHarness harness(cluster, clock, harness_yaml("at_least_once", kKeyOrder));
  fail_head(harness, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);  // the second try: refused as bad data
  assign_all(harness);
  REQUIRE(harness.run_until([&] { return cluster.committed_records("clean.email").size() == 20; }));
  CHECK(with_prefix(ids_in(cluster, "clean.email"), 'k') == expected("k", 1, 10));
  CHECK(ids_in(cluster, "dlq").size() == 1);
  CHECK(harness.metric("sluice_pipeline_outcomes_total", {{"outcome", "dlq"}, {"reason", "forward_rejected"}}) == 1);
  CHECK(harness.stop() == 0);
}

TEST_CASE("retry.ordering key with after_dead_letter: dead_letter: the followers parked then go to the DLQ, a later "
          "record of the key is forwarded",
          "[engine][key_order]") {
  FakeCluster cluster;
  topology(cluster);
  ManualClock clock;
  produce_interleaved(cluster);
  EngineHarness harness(cluster, clock, harness_yaml("at_least_once", kKeyOrder + "  after_dead_letter: dead_letter\n"));
  fail_head(harness, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
  assign_all(harness);
  REQUIRE(harness.run_until([&] { return cluster.committed_records("dlq").size() == 11; }));
  CHECK(harness.metric("sluice_pipeline_outcomes_total", {{"outcome", "dlq"}, {"reason", "forward_rejected"}}) == 1);
  CHECK(harness.metric("sluice_pipeline_outcomes_total", {{"outcome", "dlq"}, {"reason", "predecessor_dead_lettered"}}) == 10);
  CHECK(with_prefix(ids_in(cluster, "clean.email"), 'k').empty());
  for (const auto& [partition, record] : cluster.committed_records("dlq")) {
    bool has_reason = false;
    for (const auto& [key, value] : record->headers) {
      has_reason |= key == "sluice-error" && (value == "predecessor_dead_lettered" || value == "forward_rejected");
    }
    CHECK(has_reason);
  }
  REQUIRE(harness.run_until([&] { return cluster.committed_offset({"retry.10s", 0}) == 11; }));
  produce(cluster, "k", id_of(11, "k"));
  REQUIRE(harness.run_until([&] { return cluster.committed_offset({"inbound.email", 0}) == 22; }));
  CHECK(with_prefix(ids_in(cluster, "clean.email"), 'k') == expected("k", 11, 11));
  CHECK(harness.stop() == 0);
}

TEST_CASE("retry.ordering key: a tier partition assigned elsewhere than its input partition stops the engine",
          "[engine][key_order]") {
  FakeCluster cluster;
  topology(cluster);
  ManualClock clock;
  EngineHarness harness(cluster, clock, harness_yaml("at_least_once", kKeyOrder));
  harness.consumer().assign({{"inbound.email", 0}});  // retry.10s/0 is not here
  bool stopped = !harness.run_until([] { return false; }, 50);
  CHECK(stopped);
  CHECK(harness.stop() == 1);
}

TEST_CASE("retry.ordering key: a tier record goes to the tier partition with its input partition's number",
          "[engine][key_order]") {
  FakeCluster cluster;
  cluster.create_topic("inbound.email", 3);
  cluster.create_topic("clean.email", 1);
  cluster.create_topic("dlq", 1);
  cluster.create_topic("retry.10s", 3);
  ManualClock clock;
  for (int32_t partition = 0; partition < 3; ++partition) {
    StoredRecord record;
    record.key = "same-key";
    record.value = valid_email("p-0" + std::to_string(partition));
    cluster.append("inbound.email", partition, std::move(record));
  }
  EngineHarness harness(cluster, clock, harness_yaml("at_least_once", kKeyOrder));
  harness.producer().set_settle_policy([](const FakeProducer::InFlight& entry) -> std::optional<rd_kafka_resp_err_t> {
    return entry.topic == "clean.email" ? RD_KAFKA_RESP_ERR__MSG_TIMED_OUT : RD_KAFKA_RESP_ERR_NO_ERROR;
  });
  harness.consumer().assign({{"inbound.email", 0}, {"inbound.email", 1}, {"inbound.email", 2},
                             {"retry.10s", 0}, {"retry.10s", 1}, {"retry.10s", 2}});
  REQUIRE(harness.run_until([&] { return cluster.committed_records("retry.10s").size() == 3; }, 100));
  for (const auto& [partition, record] : cluster.committed_records("retry.10s")) {
    CHECK(record->value->find("hello p-0" + std::to_string(partition.partition) + "\"") != std::string::npos);
  }
  CHECK(harness.stop() == 0);
}

TEST_CASE("retry.ordering key: without an answer from the broker at assignment, the partitions wait paused and the "
          "scan is set up a second later",
          "[engine][key_order]") {
  FakeCluster cluster;
  topology(cluster);
  ManualClock clock;
  produce_interleaved(cluster);
  EngineHarness harness(cluster, clock, harness_yaml("at_least_once", kKeyOrder));
  harness.consumer().watermark_failures = 1;
  assign_all(harness);
  // No time passes: nothing is consumed while the setup waits.
  for (int i = 0; i < 20; ++i) harness.step();
  CHECK(cluster.committed_records("clean.email").empty());
  bool paused = false;
  for (const std::string& call : harness.consumer().calls) paused |= call == "pause inbound.email/0";
  CHECK(paused);
  // The retry a second later finds the broker: everything flows.
  REQUIRE(harness.run_until([&] { return cluster.committed_records("clean.email").size() == 21; }));
  CHECK(harness.stop() == 0);
}
