// The engine's guarantees, one situation each, on fakes that record every call: what it
// commits and when (exactly-once), what it does when the group or a newer instance moves on
// without it, how it stops with work stuck, and what it makes of records that are too large
// or that carry headers pretending to be sluice's.

#include <catch2/catch.hpp>

#include <rapidjson/document.h>

#include <algorithm>

#include "dedup/memory_dedup_store.h"
#include "engine/record_headers.h"
#include "fakes/engine_harness.h"

using namespace sluice;
using namespace sluice::fakes;
using namespace std::chrono_literals;

namespace {

const kafka::TopicPartition kInbound0{"inbound.email", 0};

void create_topics(FakeCluster& cluster) {
  cluster.create_topic("inbound.email", 1);
  cluster.create_topic("clean.email", 1);
  cluster.create_topic("dlq", 1);
  cluster.create_topic("retry.1s", 1);
}

void append_input(FakeCluster& cluster, const std::string& key, const std::string& value,
                  std::vector<std::pair<std::string, std::string>> headers = {}, const std::string& topic = "inbound.email") {
  StoredRecord record;
  record.key = key;
  record.value = value;
  record.headers = std::move(headers);
  cluster.append(topic, 0, std::move(record));
}

size_t count_calls(const std::vector<std::string>& calls, const std::string& prefix) {
  return static_cast<size_t>(
      std::count_if(calls.begin(), calls.end(), [&](const std::string& call) { return call.rfind(prefix, 0) == 0; }));
}

std::vector<const StoredRecord*> committed(const FakeCluster& cluster, const std::string& topic) {
  std::vector<const StoredRecord*> records;
  for (const auto& [partition, record] : cluster.committed_records(topic)) records.push_back(record);
  return records;
}

// A memory store that holds back the first fingerprint it is asked about (another instance
// holds it: Busy) until the test lets it go.
class HoldFirstStore final : public dedup::DedupStore {
 public:
  explicit HoldFirstStore(const ManualClock& clock)
      : inner_(24h, 1000, [&clock] { return clock.epoch_ms(); }) {}
  std::string_view backend_name() const override { return "memory"; }
  void reserve(std::span<const dedup::Fingerprint> fingerprints, std::vector<dedup::ReserveStatus>& out) override {
    inner_.reserve(fingerprints, out);
    for (size_t i = 0; i < fingerprints.size(); ++i) {
      if (!held_ && !released_) held_ = fingerprints[i];
      if (!released_ && held_ && *held_ == fingerprints[i]) {
        if (out[i] == dedup::ReserveStatus::Reserved) inner_.release(fingerprints.subspan(i, 1));
        out[i] = dedup::ReserveStatus::Busy;
      }
    }
  }
  void confirm(std::span<const dedup::Fingerprint> fingerprints) override { inner_.confirm(fingerprints); }
  void release(std::span<const dedup::Fingerprint> fingerprints) override { inner_.release(fingerprints); }
  bool flush() override { return true; }
  // Shared with the test, which keeps a pointer.
  bool* released() { return &released_; }

 private:
  dedup::MemoryDedupStore inner_;
  std::optional<dedup::Fingerprint> held_;
  bool released_ = false;
};

std::string exactly_once_yaml() { return harness_yaml("exactly_once", "retry:\n  tiers: [1s]\n"); }

// An exactly-once engine that has consumed one record ("a" on inbound.email/0) and committed
// it, in a group at `generation`.
struct CommittedOnce {
  explicit CommittedOnce(int32_t generation = 1) {
    create_topics(cluster);
    append_input(cluster, "a", valid_email("a"));
    while (cluster.generation() < generation) cluster.bump_generation();
    harness = std::make_unique<EngineHarness>(cluster, clock, exactly_once_yaml());
    harness->consumer().assign({kInbound0}, generation);
    REQUIRE(harness->run_until([&] { return cluster.committed_offset(kInbound0) == 1; }));
  }
  FakeCluster cluster;
  ManualClock clock;
  std::unique_ptr<EngineHarness> harness;
};
std::string at_least_once_yaml(const std::string& extra = {}) {
  return harness_yaml("at_least_once", "retry:\n  tiers: [1s]\n" + extra);
}

}  // namespace

TEST_CASE("exactly-once: a record finished past an unfinished one keeps its output out of the transaction until "
          "the gap closes",
          "[engine][eos]") {
  FakeCluster cluster;
  create_topics(cluster);
  ManualClock clock;
  append_input(cluster, "a", valid_email("a"));  // held back by the dedup store (another owner)
  append_input(cluster, "b", invalid_json("b"));  // finished at once: a DLQ record
  auto store = std::make_unique<HoldFirstStore>(clock);
  bool* released = store->released();
  EngineHarness::Options options;
  options.dedup = std::move(store);
  EngineHarness harness(cluster, clock, load_setup(exactly_once_yaml()), std::move(options));
  harness.consumer().assign({kInbound0});
  // Several commit intervals pass while "a" waits: "b"'s DLQ record must not be produced, so
  // no transaction can hold it without its offset.
  for (int i = 0; i < 50; ++i) {
    harness.step();
    clock.advance(20ms);
  }
  CHECK(count_calls(harness.producer().calls, "produce dlq") == 0);
  CHECK_FALSE(cluster.committed_offset(kInbound0));
  *released = true;
  REQUIRE(harness.run_until([&] { return cluster.committed_offset(kInbound0) == 2; }));
  // Both outputs went out, in offset order, and were committed with the offset past both.
  const auto& calls = harness.producer().calls;
  auto forward = std::find(calls.begin(), calls.end(), "produce clean.email");
  auto dlq = std::find(calls.begin(), calls.end(), "produce dlq");
  REQUIRE(forward != calls.end());
  REQUIRE(dlq != calls.end());
  CHECK(forward < dlq);
  CHECK(committed(cluster, "clean.email").size() == 1);
  CHECK(committed(cluster, "dlq").size() == 1);
  for (const FakeCluster::CommittedTransaction& transaction : cluster.committed_transactions()) {
    if (!transaction.records.empty()) CHECK(transaction.offsets_after.at(kInbound0) == 2);
  }
}

TEST_CASE("exactly-once: offsets go with the group metadata of the current assignment (generation and member id)",
          "[engine][eos]") {
  CommittedOnce engine(7);  // the group is at generation 7
  const std::vector<std::string>& calls = engine.harness->producer().calls;
  CHECK(count_calls(calls, "send_offsets_to_transaction generation=7 member=member-1") >= 1);
  CHECK(count_calls(calls, "send_offsets_to_transaction generation=-1") == 0);
  CHECK(engine.cluster.unchecked_offset_commits() == 0);
}

TEST_CASE("exactly-once: a zombie (the group moved on without it) cannot commit: its round is aborted and rewound",
          "[engine][eos]") {
  CommittedOnce engine;
  FakeCluster& cluster = engine.cluster;
  EngineHarness& harness = *engine.harness;
  // Frozen, say: the group rebalances and gives the partition to another member; this one
  // does not know yet and goes on with the next record.
  cluster.bump_generation();
  append_input(cluster, "b", invalid_json("b"));
  append_input(cluster, "c", valid_email("c"));
  REQUIRE(harness.run_until([&] { return count_calls(harness.producer().calls, "abort_transaction") >= 1; }));
  CHECK(cluster.committed_offset(kInbound0) == 1);
  CHECK(committed(cluster, "clean.email").size() == 1);
  CHECK(committed(cluster, "dlq").empty());
  CHECK(count_calls(harness.consumer().calls, "seek inbound.email/0@1") >= 1);  // rewound to its last commit
  // Told at last (the partitions are lost): nothing of it was ever committed twice.
  harness.consumer().revoke({kInbound0}, true);
  for (int i = 0; i < 20; ++i) harness.step();
  CHECK(committed(cluster, "dlq").empty());
  CHECK(committed(cluster, "clean.email").size() == 1);
}

TEST_CASE("exactly-once: partitions lost with a transaction open abort it instead of committing it", "[engine][eos]") {
  FakeCluster cluster;
  create_topics(cluster);
  ManualClock clock;
  EngineHarness harness(cluster, clock, exactly_once_yaml());
  harness.producer().set_auto_settle(false);  // the output stays unacknowledged
  harness.consumer().assign({kInbound0});
  append_input(cluster, "a", invalid_json("a"));
  REQUIRE(harness.run_until([&] { return count_calls(harness.producer().calls, "produce dlq") == 1; }, 100, 0ms));
  const size_t commits_before = count_calls(harness.producer().calls, "commit_transaction");
  harness.consumer().revoke({kInbound0}, true);
  harness.step();
  CHECK(count_calls(harness.producer().calls, "abort_transaction") == 1);
  CHECK(count_calls(harness.producer().calls, "commit_transaction") == commits_before);
  CHECK(committed(cluster, "dlq").empty());
  CHECK_FALSE(cluster.committed_offset(kInbound0));
}

TEST_CASE("exactly-once: an instance fenced by a newer one with its transactional.id stops with exit status 1, "
          "committing nothing more",
          "[engine][eos]") {
  CommittedOnce engine;
  FakeCluster& cluster = engine.cluster;
  EngineHarness& harness = *engine.harness;
  cluster.init_transactions("sluice-harness");  // the newer instance
  append_input(cluster, "b", valid_email("b"));
  bool stopped = false;
  for (int i = 0; i < 200 && !stopped; ++i) {
    stopped = !harness.step();
    engine.clock.advance(20ms);
  }
  REQUIRE(stopped);
  CHECK(harness.engine().finish() == 1);
  CHECK(cluster.committed_offset(kInbound0) == 1);
  CHECK(committed(cluster, "clean.email").size() == 1);
  CHECK(harness.consumer().closed());
}

TEST_CASE("stop: outputs never acknowledged do not hold the stop: they are given up, the rest is bounded",
          "[engine][stop]") {
  FakeCluster cluster;
  create_topics(cluster);
  ManualClock clock;
  for (int i = 0; i < 5; ++i) append_input(cluster, "k" + std::to_string(i), valid_email("k" + std::to_string(i)));
  EngineHarness harness(cluster, clock, at_least_once_yaml("shutdown:\n  drain_timeout: 3s\n"));
  harness.producer().set_auto_settle(false);
  harness.producer().set_settle_policy([](const FakeProducer::InFlight&) { return std::nullopt; });  // a broker that never answers
  harness.consumer().assign({kInbound0});
  REQUIRE(harness.run_until([&] { return harness.producer().in_flight().size() == 5; }, 100, 0ms));
  harness.engine().request_stop();
  int rounds = 0;
  while (harness.step()) {
    clock.advance(100ms);
    REQUIRE(++rounds < 100);  // the drain ends at its deadline: 3 s of the test's clock
  }
  CHECK(harness.engine().finish() == 0);
  CHECK(count_calls(harness.producer().calls, "purge") == 1);
  CHECK(harness.consumer().closed());
  // Unfinished, so not committed: redelivered after a restart.
  CHECK(committed(cluster, "clean.email").empty());
  CHECK_FALSE(cluster.committed_offset(kInbound0));
}

TEST_CASE("a record whose key is too large for any DLQ record still gets one, and its partition moves on",
          "[engine][dlq]") {
  FakeCluster cluster;
  create_topics(cluster);
  ManualClock clock;
  const std::string huge_key(600 * 1024, 'k');
  append_input(cluster, huge_key, invalid_json("big"));
  append_input(cluster, "after", valid_email("after"));
  EngineHarness harness(cluster, clock, at_least_once_yaml());
  harness.producer().max_bytes = 1'000'000;
  harness.consumer().assign({kInbound0});
  REQUIRE(harness.run_until([&] { return cluster.committed_offset(kInbound0) == 2; }));
  std::vector<const StoredRecord*> dlq = committed(cluster, "dlq");
  REQUIRE(dlq.size() == 1);
  CHECK_FALSE(dlq[0]->key);  // the key would not fit as the DLQ record's own
  rapidjson::Document envelope;
  envelope.Parse(dlq[0]->value->c_str());
  REQUIRE(envelope.IsObject());
  CHECK(envelope["original_key_truncated"].GetBool());
  CHECK(envelope["original_key_size"].GetInt64() == 600 * 1024);
  CHECK(std::string(envelope["original_key_sha256"].GetString()).size() == 64);
  CHECK(std::string(envelope["error"].GetString()) == "invalid_json");
  CHECK(committed(cluster, "clean.email").size() == 1);
  CHECK(harness.metric("sluice_dlq_envelopes_truncated_total") == 1);
}

TEST_CASE("a DLQ record the broker refuses for its size gets smaller, never retried forever as it is",
          "[engine][dlq]") {
  FakeCluster cluster;
  create_topics(cluster);
  ManualClock clock;
  append_input(cluster, "a", invalid_json("a"));
  EngineHarness harness(cluster, clock, at_least_once_yaml());
  harness.producer().set_auto_settle(false);
  harness.consumer().assign({kInbound0});
  // The broker refuses the full and then the truncated record as too large.
  for (int refusal = 0; refusal < 2; ++refusal) {
    REQUIRE(harness.run_until([&] { return !harness.producer().in_flight().empty(); }, 100, 0ms));
    harness.producer().fail(0, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
  }
  REQUIRE(harness.run_until([&] { return !harness.producer().in_flight().empty(); }, 100, 0ms));
  harness.producer().acknowledge(0);
  REQUIRE(harness.run_until([&] { return cluster.committed_offset(kInbound0) == 1; }));
  CHECK(count_calls(harness.producer().calls, "produce dlq") == 3);
  std::vector<const StoredRecord*> dlq = committed(cluster, "dlq");
  REQUIRE(dlq.size() == 1);
  rapidjson::Document envelope;
  envelope.Parse(dlq[0]->value->c_str());
  CHECK(envelope["original_truncated"].GetBool());
  CHECK(std::string(envelope["original_message_base64"].GetString()).empty());  // the minimal form
}

TEST_CASE("dlq.format raw: a DLQ record the broker refuses loses its original headers, then becomes the minimal "
          "envelope; value and key are never cut",
          "[engine][dlq][raw]") {
  FakeCluster cluster;
  create_topics(cluster);
  ManualClock clock;
  append_input(cluster, "a", invalid_json("a"), {{"trace", "t1"}});
  HarnessSetup setup = load_setup(at_least_once_yaml());
  auto raw_config = std::make_shared<config::Config>(*setup.config);
  raw_config->dlq.format = config::DlqFormat::Raw;
  setup.config = raw_config;
  EngineHarness harness(cluster, clock, setup, {});
  harness.producer().set_auto_settle(false);
  harness.consumer().assign({kInbound0});
  auto next_dlq_record = [&]() -> StoredRecord {
    REQUIRE(harness.run_until([&] { return !harness.producer().in_flight().empty(); }, 100, 0ms));
    REQUIRE(harness.producer().in_flight()[0].topic == "dlq");
    return harness.producer().in_flight()[0].record;
  };
  const StoredRecord full = next_dlq_record();
  CHECK(full.value == invalid_json("a"));
  CHECK(full.key == "a");
  CHECK(full.header("trace") == "t1");
  CHECK(full.header("sluice-dlq-format") == "raw");
  CHECK(full.header("sluice-error") == "invalid_json");
  harness.producer().fail(0, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);

  const StoredRecord without_headers = next_dlq_record();
  CHECK(without_headers.value == invalid_json("a"));
  CHECK(without_headers.key == "a");
  CHECK_FALSE(without_headers.header("trace"));
  CHECK(without_headers.header("sluice-original-headers-dropped") == "1");
  CHECK(without_headers.header("sluice-dlq-format") == "raw");
  harness.producer().fail(0, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);

  const StoredRecord minimal = next_dlq_record();
  CHECK_FALSE(minimal.header("sluice-dlq-format"));
  rapidjson::Document envelope;
  envelope.Parse(minimal.value->c_str());
  REQUIRE(envelope.IsObject());
  CHECK(std::string(envelope["original_message_base64"].GetString()).empty());
  harness.producer().acknowledge(0);
  REQUIRE(harness.run_until([&] { return cluster.committed_offset(kInbound0) == 1; }));
  CHECK(harness.metric("sluice_dlq_envelopes_truncated_total") == 1);
}

TEST_CASE("sluice-* headers on an inbound record are renamed, never trusted: the DLQ and the retry tier name the "
          "real origin",
          "[engine][headers]") {
  FakeCluster cluster;
  create_topics(cluster);
  ManualClock clock;
  const std::vector<std::pair<std::string, std::string>> forged = {{"sluice-original-topic", "evil.topic"},
                                                                   {"sluice-original-partition", "7"},
                                                                   {"sluice-original-offset", "999"},
                                                                   {"sluice-retry-count", "999"},
                                                                   {"trace", "t1"}};
  append_input(cluster, "bad", invalid_json("bad"), forged);
  append_input(cluster, "good", valid_email("good"), forged);
  EngineHarness harness(cluster, clock, at_least_once_yaml());
  harness.producer().set_settle_policy([](const FakeProducer::InFlight& entry) -> std::optional<rd_kafka_resp_err_t> {
    static bool failed_once = false;
    if (entry.topic == "clean.email" && !failed_once) {
      failed_once = true;
      return RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT;  // the forward fails once: to the retry tier
    }
    return RD_KAFKA_RESP_ERR_NO_ERROR;
  });
  harness.consumer().assign({kInbound0, {"retry.1s", 0}});
  REQUIRE(harness.run_until([&] { return committed(cluster, "clean.email").size() == 1; }, 1000, 20ms));

  std::vector<const StoredRecord*> dlq = committed(cluster, "dlq");
  REQUIRE(dlq.size() == 1);
  rapidjson::Document envelope;
  envelope.Parse(dlq[0]->value->c_str());
  CHECK(std::string(envelope["original_topic"].GetString()) == "inbound.email");
  CHECK(envelope["original_partition"].GetInt() == 0);
  CHECK(envelope["original_offset"].GetInt64() == 0);
  CHECK(envelope["retry_count"].GetInt() == 0);
  CHECK_FALSE(dlq[0]->header("sluice-original-topic"));
  CHECK(dlq[0]->header("upstream-sluice-original-topic") == "evil.topic");
  CHECK(dlq[0]->header("trace") == "t1");

  std::vector<const StoredRecord*> tier = committed(cluster, "retry.1s");
  REQUIRE(tier.size() == 1);
  CHECK(tier[0]->header("sluice-original-topic") == "inbound.email");
  CHECK(tier[0]->header("sluice-original-offset") == "1");
  CHECK(tier[0]->header("sluice-retry-count") == "1");  // the first tier, not "retries exhausted"
  CHECK(tier[0]->header("upstream-sluice-original-topic") == "evil.topic");
  std::vector<const StoredRecord*> forwarded = committed(cluster, "clean.email");
  CHECK(forwarded[0]->header("upstream-sluice-retry-count") == "999");
}

TEST_CASE("a retry-tier record with a due time far in the future is held no longer than its tier's delay",
          "[engine][headers]") {
  FakeCluster cluster;
  create_topics(cluster);
  ManualClock clock;
  const std::string far = std::to_string(clock.epoch_ms() + 24 * 3600 * 1000);
  append_input(cluster, "held", valid_email("held"), {{"sluice-retry-count", "1"}, {"sluice-retry-due", far}}, "retry.1s");
  append_input(cluster, "behind", valid_email("behind"), {{"sluice-retry-count", "1"}}, "retry.1s");
  EngineHarness harness(cluster, clock, at_least_once_yaml());
  harness.consumer().assign({{"retry.1s", 0}});
  const auto started = clock.now();
  REQUIRE(harness.run_until([&] { return committed(cluster, "clean.email").size() == 2; }, 1000, 20ms));
  CHECK(clock.now() - started <= 1500ms);  // the tier's delay (1 s) and a few rounds
  CHECK(clock.now() - started >= 1000ms);  // held: a tier record waits its delay
}
