// retry.ordering: key as a property over random schedules: the engine on fakes, driven by a
// random mix of loop rounds, acknowledgements in any order, transient failures (records go
// through the tiers), records refused as bad data, clock jumps, crashes (the successor rebuilds
// the parked keys from the tiers) and graceful rebalances. Then a fault-free
// end, and a look at the route's topic: for every key of every input partition, the records
// arrive (first arrivals; a crash may repeat one) in input offset order, and nothing is lost.

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <set>

#include <rapidjson/document.h>

#include "engine/record_headers.h"
#include "fakes/engine_harness.h"
#include "fakes/shared_dedup_store.h"

using namespace sluice;
using namespace sluice::fakes;
using namespace std::chrono_literals;

namespace {

constexpr const char* kInbound = "inbound.email";
const std::vector<std::string> kTierTopics = {"retry.1s", "retry.2s"};

std::string yaml_for(bool exactly_once, bool dead_letter_followers) {
  return harness_yaml(exactly_once ? "exactly_once" : "at_least_once",
                      std::string("retry:\n  tiers: [1s, 2s]\n  ordering: key\n  after_dead_letter: ") +
                          (dead_letter_followers ? "dead_letter" : "release") +
                          "\ncircuit_breaker:\n  failure_threshold: 1000\n");
}

// A record the destination refuses every time it is sent (valid_email("p…")).
bool poisoned(const std::string& topic, const std::optional<std::string>& value) {
  return topic == "clean.email" && value && value->find("hello p") != std::string::npos;
}

class Schedule {
 public:
  Schedule(uint64_t seed, bool exactly_once, bool dead_letter_followers)
      : rng_(seed), exactly_once_(exactly_once), setup_(load_setup(yaml_for(exactly_once, dead_letter_followers))) {}

  void run();
  void check();
  std::map<std::string, int> events;

 private:
  int below(int bound) { return std::uniform_int_distribution<int>(0, bound - 1)(rng_); }
  std::vector<kafka::TopicPartition> consumed() const;
  EngineHarness& start();
  void random_event();
  bool caught_up() const;

  std::mt19937_64 rng_;
  const bool exactly_once_;
  HarnessSetup setup_;
  FakeCluster cluster_;
  ManualClock clock_;
  SharedDedupState dedup_;
  std::unique_ptr<EngineHarness> instance_;
  int owner_ = 0;
  int partitions_ = 1;
  int inputs_ = 0;
};

std::vector<kafka::TopicPartition> Schedule::consumed() const {
  std::vector<kafka::TopicPartition> all;
  for (int p = 0; p < partitions_; ++p) {
    all.push_back({kInbound, p});
    for (const std::string& tier : kTierTopics) all.push_back({tier, p});
  }
  return all;
}

EngineHarness& Schedule::start() {
  EngineHarness::Options options;
  owner_ += 1;
  options.member_id = "member-" + std::to_string(owner_);
  options.dedup = dedup_.view(owner_);
  instance_ = std::make_unique<EngineHarness>(cluster_, clock_, setup_, std::move(options));
  instance_->producer().set_auto_settle(false);
  instance_->producer().set_settle_policy([](const FakeProducer::InFlight& entry) -> std::optional<rd_kafka_resp_err_t> {
    return poisoned(entry.topic, entry.record.value) ? RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE : RD_KAFKA_RESP_ERR_NO_ERROR;
  });
  if (exactly_once_) {
    // A refusal in a delivery report would abort the transaction, and the record would be
    // refused again after the rewind, for ever: the producer refuses it at once instead (as
    // librdkafka does a record over message.max.bytes).
    instance_->producer().refuse = [this](const kafka::OutboundRecord& out) {
      if (!poisoned(std::string(out.topic), std::string(out.value))) return RD_KAFKA_RESP_ERR_NO_ERROR;
      events["refused as too large"] += 1;
      return RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE;
    };
  }
  cluster_.bump_generation();
  instance_->consumer().assign(consumed(), cluster_.generation());
  return *instance_;
}

void Schedule::random_event() {
  const int roll = below(1000);
  if (roll < 600) {
    REQUIRE(instance_->step());
  } else if (roll < 870) {
    std::vector<FakeProducer::InFlight>& in_flight = instance_->producer().in_flight();
    // The destination refuses a poisoned record every time (so an acknowledgement, which
    // acknowledges the earlier records of its partition too, never takes one along).
    for (size_t i = 0; i < in_flight.size(); ++i) {
      if (poisoned(in_flight[i].topic, in_flight[i].record.value)) {
        events["refused as too large"] += 1;
        instance_->producer().fail(i, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
        return;
      }
    }
    if (in_flight.empty()) return;
    const size_t index = static_cast<size_t>(below(static_cast<int>(in_flight.size())));
    if (below(100) < 75) {
      instance_->producer().acknowledge(index);
    } else {
      events["transient failure"] += 1;
      instance_->producer().fail(index, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
    }
  } else if (roll < 970) {
    clock_.advance(std::chrono::milliseconds(1 + below(400)));
  } else if (roll < 982) {
    // Gone with everything it had not committed; the successor rebuilds the parked keys.
    events["crash"] += 1;
    dedup_.crash(owner_);
    instance_.reset();
    start();
  } else {
    // The broker answers what is in flight while the revocation drains it, as it does within
    // the drain's limit unless it is down. (Partitions lost instead, or a drain that runs out of
    // time, may let an output in flight land after records its partition's next owner
    // forwards: key order is not promised there; docs/design.md, what order holds.)
    // The revocation is served (and its offsets committed) in the generation it belongs to,
    // then the group moves on and assigns everything again.
    events["graceful rebalance"] += 1;
    instance_->producer().set_auto_settle(true);
    instance_->consumer().revoke(consumed(), false);
    REQUIRE(instance_->step());
    cluster_.bump_generation();
    instance_->consumer().assign(consumed(), cluster_.generation());
    REQUIRE(instance_->step());
    instance_->producer().set_auto_settle(false);
  }
}

bool Schedule::caught_up() const { return cluster_.group_caught_up(consumed()); }

void Schedule::run() {
  partitions_ = 1 + below(3);
  cluster_.create_topic(kInbound, partitions_);
  cluster_.create_topic("clean.email", 2);
  cluster_.create_topic("dlq", 1);
  for (const std::string& tier : kTierTopics) cluster_.create_topic(tier, partitions_);
  // Few keys, many records each: a key's records meet in the tiers.
  inputs_ = 20 + below(40);
  const int keys = 2 + below(4);
  for (int i = 0; i < inputs_; ++i) {
    StoredRecord record;
    record.key = "k" + std::to_string(below(keys));
    // A few the destination refuses as they are (bad data): dead-lettered, with their followers
    // released or dead-lettered too.
    record.value = valid_email((below(100) < 5 ? "p" : "c") + std::to_string(i));
    cluster_.append(kInbound, below(partitions_), std::move(record));
  }
  start();
  const int count = 400 + below(800);
  for (int i = 0; i < count; ++i) random_event();

  instance_->producer().set_auto_settle(true);
  bool done = instance_->run_until([&] { return caught_up() && instance_->engine().live_records() == 0; }, 20'000, 50ms);
  if (!done) {
    for (const auto& [event, times] : events) UNSCOPED_INFO("event " << event << " x" << times);
    for (const kafka::TopicPartition& partition : consumed()) {
      UNSCOPED_INFO(describe(partition) << " committed " << cluster_.committed_offset(partition).value_or(-1) << " end "
                                        << cluster_.end_offset(partition.topic, partition.partition));
    }
    const auto& calls = instance_->consumer().calls;
    for (size_t i = calls.size() > 40 ? calls.size() - 40 : 0; i < calls.size(); ++i) UNSCOPED_INFO("consumer: " << calls[i]);
  }
  REQUIRE(done);
  CHECK(instance_->stop() == 0);
}

void Schedule::check() {
  // Replaying one schedule (SLUICE_PROPERTY_SEED=N) shows what reached each topic.
  if (std::getenv("SLUICE_PROPERTY_SEED") != nullptr) {
    for (const std::string& topic : {std::string("clean.email"), kTierTopics[0], kTierTopics[1], std::string("dlq")}) {
      for (const auto& [partition, record] : cluster_.committed_records(topic)) {
        std::fprintf(stderr, "%s/%d key=%s src=%s orig=%s count=%s parked=%s\n", topic.c_str(), partition.partition,
                     record->key.value_or("-").c_str(), record->header(engine::header::kSource).value_or("-").c_str(),
                     record->header(engine::header::kOriginalOffset).value_or("-").c_str(),
                     record->header(engine::header::kRetryCount).value_or("-").c_str(),
                     record->header(engine::header::kParkedBehind).value_or("-").c_str());
      }
    }
    for (const auto& [event, times] : events) std::fprintf(stderr, "event %s x%d\n", event.c_str(), times);
  }
  // The inputs dead-lettered (bad data, out of retries, or behind a dead-lettered one): they
  // left their key's stream. A replay after a crash may still forward one later (its first
  // outcome was not committed), which at-least-once allows, so they are not in the order.
  std::set<std::string> dead_lettered;
  for (const auto& [partition, record] : cluster_.committed_records("dlq")) {
    rapidjson::Document envelope;
    envelope.Parse(record->value.value_or("").c_str());
    REQUIRE((!envelope.HasParseError() && envelope.IsObject()));
    dead_lettered.insert(std::string(envelope["original_topic"].GetString()) + "/" +
                         std::to_string(envelope["original_partition"].GetInt()) + "/" +
                         std::to_string(envelope["original_offset"].GetInt64()));
  }
  // Per input partition and key, the input offsets in the order they first reached the route.
  std::map<std::pair<std::string, std::string>, std::vector<int64_t>> arrivals;
  std::set<std::string> forwarded;
  for (const auto& [partition, record] : cluster_.committed_records("clean.email")) {
    // Where it was consumed from; for a record that came through a tier, where it first came from.
    std::string source = record->header(engine::header::kSource).value_or("?");
    if (auto topic = record->header(engine::header::kOriginalTopic)) {
      source = *topic + "/" + record->header(engine::header::kOriginalPartition).value_or("?") + "/" +
               record->header(engine::header::kOriginalOffset).value_or("?");
    }
    if (!forwarded.insert(source).second) {
      events["repeated after a crash"] += 1;
      continue;
    }
    if (dead_lettered.count(source) != 0) continue;
    const size_t slash = source.rfind('/');
    arrivals[{source.substr(0, slash), *record->key}].push_back(std::stoll(source.substr(slash + 1)));
  }
  for (const auto& [where, offsets] : arrivals) {
    std::string list;
    for (int64_t offset : offsets) list += std::to_string(offset) + " ";
    INFO(where.first << " key " << where.second << ": " << list);
    CHECK(std::is_sorted(offsets.begin(), offsets.end()));
  }
  // Nothing lost: every input forwarded, or in the DLQ.
  for (int p = 0; p < partitions_; ++p) {
    for (const auto& [offset, record] : cluster_.read_committed(kInbound, p, 0, 1'000)) {
      const std::string source = std::string(kInbound) + "/" + std::to_string(p) + "/" + std::to_string(offset);
      INFO(source);
      CHECK((forwarded.count(source) == 1 || dead_lettered.count(source) == 1));
    }
  }
}

void run_schedules(bool exactly_once, bool dead_letter_followers, uint64_t first_seed, int count) {
  if (const char* only = std::getenv("SLUICE_PROPERTY_SEED")) {
    first_seed = std::strtoull(only, nullptr, 10);
    count = 1;
  }
  std::map<std::string, int> coverage;
  for (int i = 0; i < count; ++i) {
    const uint64_t seed = first_seed + static_cast<uint64_t>(i);
    INFO("seed " << seed << (exactly_once ? " exactly_once" : " at_least_once")
                 << (dead_letter_followers ? " dead_letter" : " release"));
    Schedule schedule(seed, exactly_once, dead_letter_followers);
    schedule.run();
    schedule.check();
    for (const auto& [event, times] : schedule.events) coverage[event] += times;
  }
  if (count == 1) return;
  for (const char* event : {"crash", "graceful rebalance", "transient failure", "refused as too large"}) {
    INFO(event);
    CHECK(coverage[event] > 0);
  }
}

}  // namespace

#ifdef SLUICE_SANITIZED
constexpr int kScheduleDivisor = 3;
#else
constexpr int kScheduleDivisor = 1;
#endif

TEST_CASE("retry.ordering key: over random schedules with failures, crashes and rebalances, each key's records "
          "arrive in input order and nothing is lost",
          "[engine][property][key_order]") {
  run_schedules(false, false, 200'001, 300 / kScheduleDivisor);
  run_schedules(false, true, 300'001, 100 / kScheduleDivisor);
}

TEST_CASE("retry.ordering key with exactly-once: over random schedules each key's records arrive in input order",
          "[engine][property][key_order][eos]") {
  run_schedules(true, false, 400'001, 300 / kScheduleDivisor);
}
