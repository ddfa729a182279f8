// The delivery guarantees as properties over random schedules: the engine on fakes of a
// cluster with real transactions, driven by a random mix of loop rounds, acknowledgements in
// any order, transient and permanent delivery failures, clock jumps, crashes (an instance
// gone with everything it had not committed; its successor restarts with the same
// transactional.id), graceful rebalances, lost partitions, zombies (an instance the group
// moved on from without telling it, while another instance owns its partitions) and fencing
// (a newer instance with the same transactional.id). Then a fault-free end, and a look at
// what a read_committed reader sees:
//   exactly-once — each input's outputs exactly once (a valid message forwarded once, or
//     dead-lettered after its retries; a bad one dead-lettered once; a filtered one not at
//     all), duplicates of one content forwarded once in all, every retry-tier record
//     processed once, the records of an input partition forwarded in offset order, every
//     transactional offset commit checked against the group's generation, and every offset
//     committed;
//   at-least-once — nothing lost: every valid content forwarded (or dead-lettered after its
//     retries), every bad input dead-lettered, every offset committed.

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

enum class Kind { Valid, Invalid, Spam };

struct Input {
  std::string key;
  Kind kind = Kind::Valid;
  int content = 0;  // inputs with the same content are duplicates of each other
};

std::string yaml_for(bool exactly_once) {
  return harness_yaml(exactly_once ? "exactly_once" : "at_least_once",
                      "retry:\n  tiers: [1s, 2s]\n"
                      "circuit_breaker:\n  failure_threshold: 3\n  open_timeout: 500ms\n  success_threshold: 1\n");
}

const HarnessSetup& setup_for(bool exactly_once) {
  static const HarnessSetup exactly = load_setup(yaml_for(true));
  static const HarnessSetup at_least = load_setup(yaml_for(false));
  return exactly_once ? exactly : at_least;
}

struct Instance {
  int slot = 0;   // its transactional.id
  int owner = 0;  // its reservations in the dedup store
  std::unique_ptr<EngineHarness> harness;
  bool stopped = false;  // step() said it stopped (a fatal error)
  bool zombie = false;   // the group moved on without telling it
};

class Schedule {
 public:
  Schedule(uint64_t seed, bool exactly_once) : rng_(seed), exactly_once_(exactly_once) {}

  void run();
  void check();
  void check_outputs_below_committed_offsets();
  std::map<std::string, int> events;  // what happened, for coverage

 private:
  int below(int bound) { return std::uniform_int_distribution<int>(0, bound - 1)(rng_); }
  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  std::vector<kafka::TopicPartition> consumed() const;
  Instance& start(int slot);
  Instance* owner();
  void give_owner_everything(Instance& instance);
  void settle_some(Instance& instance);
  void random_event();
  bool caught_up() const;

  std::mt19937_64 rng_;
  const bool exactly_once_;
  FakeCluster cluster_;
  ManualClock clock_;
  SharedDedupState dedup_;
  std::vector<Input> inputs_;
  std::vector<Instance> instances_;
  int inbound_partitions_ = 1;
  int next_owner_ = 1;
};

std::vector<kafka::TopicPartition> Schedule::consumed() const {
  std::vector<kafka::TopicPartition> partitions;
  for (int p = 0; p < inbound_partitions_; ++p) partitions.push_back({kInbound, p});
  for (const std::string& tier : kTierTopics) {
    for (int p = 0; p < 2; ++p) partitions.push_back({tier, p});
  }
  return partitions;
}

Instance& Schedule::start(int slot) {
  EngineHarness::Options options;
  options.member_id = "member-" + std::to_string(instances_.size() + 1);
  options.transactional_id = "sluice-" + std::to_string(slot);
  Instance instance;
  instance.slot = slot;
  instance.owner = next_owner_++;
  options.dedup = dedup_.view(instance.owner);
  instance.harness = std::make_unique<EngineHarness>(cluster_, clock_, setup_for(exactly_once_), std::move(options));
  // Deliveries are settled by the schedule, in any order; flushes (transaction commits)
  // settle the rest, now and then with a transient failure.
  instance.harness->producer().set_auto_settle(false);
  instance.harness->producer().set_settle_policy([this](const FakeProducer::InFlight&) -> std::optional<rd_kafka_resp_err_t> {
    if (chance(0.05)) return RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT;
    return RD_KAFKA_RESP_ERR_NO_ERROR;
  });
  instances_.push_back(std::move(instance));
  return instances_.back();
}

// The instance that owns the partitions (the newest one that is not a zombie or stopped).
Instance* Schedule::owner() {
  for (auto it = instances_.rbegin(); it != instances_.rend(); ++it) {
    if (!it->zombie && !it->stopped) return &*it;
  }
  return nullptr;
}

void Schedule::give_owner_everything(Instance& instance) {
  if (std::getenv("SLUICE_PROPERTY_SEED") != nullptr) {
    std::fprintf(stderr, "assign everything to %s at generation %d\n", instance.harness->consumer().member_id().c_str(),
                 cluster_.generation() + 1);
  }
  cluster_.bump_generation();
  // The generation it joins is the one of this rebalance, whenever it hears of it.
  instance.harness->consumer().assign(consumed(), cluster_.generation());
}

void Schedule::settle_some(Instance& instance) {
  std::vector<FakeProducer::InFlight>& in_flight = instance.harness->producer().in_flight();
  if (in_flight.empty()) return;
  size_t index = static_cast<size_t>(below(static_cast<int>(in_flight.size())));
  int fate = below(100);
  if (fate < 85) {
    instance.harness->producer().acknowledge(index);
  } else if (fate < 97) {
    events["transient failure"] += 1;
    instance.harness->producer().fail(index, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
  } else {
    events["refused as too large"] += 1;
    instance.harness->producer().fail(index, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
  }
}

void Schedule::random_event() {
  Instance* current = owner();
  const int roll = below(1000);
  if (roll < 600) {
    // A loop round of a running instance (zombies keep running too).
    Instance& instance = instances_[static_cast<size_t>(below(static_cast<int>(instances_.size())))];
    if (!instance.stopped && !instance.harness->step()) {
      instance.stopped = true;
      events["stopped by a fatal error"] += 1;
      CHECK(instance.harness->engine().finish() == 1);
      dedup_.crash(instance.owner);  // its reservations expire
    }
  } else if (roll < 850) {
    Instance& instance = instances_[static_cast<size_t>(below(static_cast<int>(instances_.size())))];
    if (!instance.stopped) settle_some(instance);
  } else if (roll < 950) {
    clock_.advance(std::chrono::milliseconds(1 + below(300)));
  } else if (current == nullptr) {
    events["restart after a fatal error"] += 1;
    give_owner_everything(start(instances_.back().slot));
  } else if (roll < 962) {
    // A crash: the instance is gone with all it had not committed; its successor, with the
    // same transactional.id, fences it and aborts its open transaction.
    events["crash"] += 1;
    const int slot = current->slot;
    dedup_.crash(current->owner);
    instances_.erase(instances_.begin() + (current - instances_.data()));
    give_owner_everything(start(slot));
  } else if (roll < 974) {
    events["graceful rebalance"] += 1;
    current->harness->consumer().revoke(consumed(), false);
    give_owner_everything(*current);
  } else if (roll < 984) {
    events["partitions lost"] += 1;
    current->harness->consumer().revoke(consumed(), true);
    give_owner_everything(*current);
  } else if (roll < 992) {
    // The group moves on to a new member while the old one still runs (frozen, say): the
    // old one is a zombie until it finds out.
    bool zombie_present = false;
    for (const Instance& instance : instances_) zombie_present = zombie_present || instance.zombie;
    if (zombie_present) {
      for (Instance& instance : instances_) {
        if (instance.zombie && !instance.stopped) instance.harness->consumer().revoke(consumed(), true);
      }
      events["zombie told"] += 1;
      return;
    }
    events["zombie"] += 1;
    current->zombie = true;
    give_owner_everything(start(current->slot == 1 ? 2 : 1));
  } else {
    // A newer instance with the same transactional.id: the current one is fenced.
    events["fenced"] += 1;
    current->zombie = true;
    const int slot = current->slot;
    give_owner_everything(start(slot));
  }
}

bool Schedule::caught_up() const { return cluster_.group_caught_up(consumed()); }

void Schedule::run() {
  inbound_partitions_ = 1 + below(3);
  cluster_.create_topic(kInbound, inbound_partitions_);
  cluster_.create_topic("clean.email", 2);
  cluster_.create_topic("dlq", 1);
  for (const std::string& tier : kTierTopics) cluster_.create_topic(tier, 2);
  const int count = 8 + below(30);
  for (int i = 0; i < count; ++i) {
    Input input;
    input.key = "k" + std::to_string(i);
    const int roll = below(100);
    input.kind = roll < 70 ? Kind::Valid : roll < 85 ? Kind::Invalid : Kind::Spam;
    input.content = i;
    // Some valid inputs repeat an earlier valid content (a duplicate with another key).
    if (input.kind == Kind::Valid && i > 0 && chance(0.15)) {
      const Input& earlier = inputs_[static_cast<size_t>(below(i))];
      if (earlier.kind == Kind::Valid) input.content = earlier.content;
    }
    StoredRecord record;
    record.key = input.key;
    const std::string content_id = "c" + std::to_string(input.content);
    record.value = input.kind == Kind::Valid     ? valid_email(content_id)
                   : input.kind == Kind::Invalid ? invalid_json(content_id)
                                                 : spam_email(content_id);
    cluster_.append(kInbound, below(inbound_partitions_), std::move(record));
    inputs_.push_back(input);
  }
  give_owner_everything(start(1));
  const int events_count = 300 + below(700);
  for (int i = 0; i < events_count; ++i) random_event();

  // A fault-free end: the zombies learn they lost everything and go, one owner finishes.
  for (Instance& instance : instances_) {
    if (instance.zombie && !instance.stopped) instance.harness->consumer().revoke(consumed(), true);
  }
  for (Instance& instance : instances_) {
    if (instance.zombie && !instance.stopped) instance.harness->step();
    // Whatever reservations it still holds expire, as a shared store's would.
    if (instance.zombie) dedup_.crash(instance.owner);
  }
  Instance* last = owner();
  if (last == nullptr) {
    last = &start(instances_.back().slot);
    give_owner_everything(*last);
  }
  last->harness->producer().set_settle_policy(
      [](const FakeProducer::InFlight&) -> std::optional<rd_kafka_resp_err_t> { return RD_KAFKA_RESP_ERR_NO_ERROR; });
  last->harness->producer().set_auto_settle(true);
  bool done = last->harness->run_until([&] { return caught_up() && last->harness->engine().live_records() == 0; },
                                       20'000, 50ms);
  if (!done) {
    for (const auto& [event, times] : events) UNSCOPED_INFO("event " << event << " x" << times);
    for (const kafka::TopicPartition& partition : consumed()) {
      UNSCOPED_INFO(describe(partition) << " committed " << cluster_.committed_offset(partition).value_or(-1) << " lso "
                                        << cluster_.last_stable_offset(partition.topic, partition.partition) << " end "
                                        << cluster_.end_offset(partition.topic, partition.partition));
    }
    UNSCOPED_INFO("live records " << last->harness->engine().live_records() << ", instances " << instances_.size()
                                  << ", generation " << cluster_.generation() << ", the owner's "
                                  << last->harness->consumer().generation());
    const auto& consumer_calls = last->harness->consumer().calls;
    for (size_t i = consumer_calls.size() > 30 ? consumer_calls.size() - 30 : 0; i < consumer_calls.size(); ++i) {
      UNSCOPED_INFO("consumer: " << consumer_calls[i]);
    }
    std::vector<std::string> producer_calls;
    for (const std::string& call : last->harness->producer().calls) {
      if (call != "poll") producer_calls.push_back(call);
    }
    for (size_t i = producer_calls.size() > 30 ? producer_calls.size() - 30 : 0; i < producer_calls.size(); ++i) {
      UNSCOPED_INFO("producer: " << producer_calls[i]);
    }
  }
  REQUIRE(done);
  CHECK(last->harness->stop() == 0);
}

void Schedule::check() {
  std::map<std::string, int> forwards;
  std::map<std::string, int> dead_letters;
  std::map<std::string, std::multiset<std::string>> tier_counts;
  // Per output partition, the input offsets forwarded straight from each input partition.
  std::map<int32_t, std::map<std::string, std::vector<int64_t>>> forwarded_order;
  for (const auto& [partition, record] : cluster_.committed_records("clean.email")) {
    forwards[*record->key] += 1;
    std::string source = record->header(engine::header::kSource).value_or("");
    if (source.rfind(std::string(kInbound) + "/", 0) == 0) {
      const size_t slash = source.rfind('/');
      forwarded_order[partition.partition][source.substr(0, slash)].push_back(std::stoll(source.substr(slash + 1)));
    }
  }
  for (const auto& [partition, record] : cluster_.committed_records("dlq")) {
    dead_letters[*record->key] += 1;
  }
  for (const std::string& tier : kTierTopics) {
    for (const auto& [partition, record] : cluster_.committed_records(tier)) {
      tier_counts[*record->key].insert(record->header(engine::header::kRetryCount).value_or("?"));
    }
  }
  std::map<int, int> content_forwards;
  std::map<int, int> content_dead_lettered;
  for (const Input& input : inputs_) {
    INFO("input " << input.key << " kind " << static_cast<int>(input.kind) << " content " << input.content);
    const int forwarded = forwards[input.key];
    const int dead_lettered = dead_letters[input.key];
    content_forwards[input.content] += forwarded;
    content_dead_lettered[input.content] += dead_lettered;
    switch (input.kind) {
      case Kind::Valid:
        // Forwarded, or dead-lettered (refused by the destination, or out of retries).
        if (exactly_once_) CHECK(forwarded + dead_lettered <= 1);
        break;
      case Kind::Invalid:
        CHECK(forwarded == 0);
        if (exactly_once_) {
          CHECK(dead_lettered == 1);
        } else {
          CHECK(dead_lettered >= 1);
        }
        break;
      case Kind::Spam:
        CHECK(forwarded == 0);
        CHECK(dead_lettered == 0);
        break;
    }
    if (exactly_once_) {
      // Each tier record was processed once: never two records with the same retry count.
      const std::multiset<std::string>& counts = tier_counts[input.key];
      CHECK(std::set<std::string>(counts.begin(), counts.end()).size() == counts.size());
    }
  }
  for (const auto& [content, forwarded] : content_forwards) {
    INFO("content " << content);
    bool valid = false;
    for (const Input& input : inputs_) valid = valid || (input.content == content && input.kind == Kind::Valid);
    if (!valid) continue;
    CHECK(forwarded + content_dead_lettered[content] >= 1);  // nothing lost
    if (exactly_once_) CHECK(forwarded <= 1);
  }
  if (exactly_once_) {
    for (const auto& [output_partition, per_input] : forwarded_order) {
      for (const auto& [input_partition, offsets] : per_input) {
        INFO("clean.email/" << output_partition << " from " << input_partition);
        CHECK(std::is_sorted(offsets.begin(), offsets.end()));
      }
    }
    // Every transactional offset commit carried the group's generation, so the broker could
    // refuse a zombie's.
    CHECK(cluster_.unchecked_offset_commits() == 0);
    check_outputs_below_committed_offsets();
  }
}

// The invariant of exactly-once commits: in every committed transaction, each output of a
// record consumed from an inbound partition comes from below the offset the group has
// committed for that partition once the transaction committed. (Outputs of records consumed
// from a tier carry their first origin, not the tier record's place, so they are not
// checked here; the retry counts above cover them.)
void Schedule::check_outputs_below_committed_offsets() {
  for (const FakeCluster::CommittedTransaction& transaction : cluster_.committed_transactions()) {
    for (const auto& [where, offset] : transaction.records) {
      const StoredRecord& record = cluster_.record_at(where, offset);
      std::optional<kafka::TopicPartition> source;
      int64_t source_offset = -1;
      if (auto consumed = record.header(engine::header::kSource); consumed && where.topic == "clean.email") {
        const size_t slash = consumed->rfind('/');
        const size_t first = consumed->find('/');
        if (consumed->substr(0, first) == kInbound) {
          source = kafka::TopicPartition{kInbound, std::stoi(consumed->substr(first + 1, slash - first - 1))};
          source_offset = std::stoll(consumed->substr(slash + 1));
        }
      } else if (where.topic != "clean.email" && record.header(engine::header::kRetryCount).value_or("1") == "1" &&
                 !record.header(engine::header::kRetryDue)) {
        // A DLQ record of an inbound record: its origin is in the envelope.
        rapidjson::Document envelope;
        envelope.Parse(record.value->c_str());
        if (!envelope.HasParseError() && envelope.IsObject() && envelope.HasMember("original_topic") &&
            std::string(envelope["original_topic"].GetString()) == kInbound && envelope["retry_count"].GetInt() == 0) {
          source = kafka::TopicPartition{kInbound, envelope["original_partition"].GetInt()};
          source_offset = envelope["original_offset"].GetInt64();
        }
      } else if (record.header(engine::header::kRetryCount) == "1") {
        // The first retry-tier record of an inbound record.
        source = kafka::TopicPartition{*record.header(engine::header::kOriginalTopic),
                                       std::stoi(*record.header(engine::header::kOriginalPartition))};
        source_offset = std::stoll(*record.header(engine::header::kOriginalOffset));
      }
      if (!source) continue;
      auto committed = transaction.offsets_after.find(*source);
      INFO(where.topic << "/" << where.partition << "@" << offset << " from " << describe(*source) << "@"
                       << source_offset);
      CHECK(committed != transaction.offsets_after.end());
      if (committed != transaction.offsets_after.end()) CHECK(source_offset < committed->second);
    }
  }
}

void run_schedules(bool exactly_once, uint64_t first_seed, int count) {
  // SLUICE_PROPERTY_SEED=N replays one schedule (with the engine's log) to see what it did.
  if (const char* only = std::getenv("SLUICE_PROPERTY_SEED")) {
    first_seed = std::strtoull(only, nullptr, 10);
    count = 1;
  }
  std::map<std::string, int> coverage;
  for (int i = 0; i < count; ++i) {
    const uint64_t seed = first_seed + static_cast<uint64_t>(i);
    INFO("seed " << seed << " (" << (exactly_once ? "exactly_once" : "at_least_once") << ")");
    Schedule schedule(seed, exactly_once);
    schedule.run();
    schedule.check();
    for (const auto& [event, times] : schedule.events) coverage[event] += times;
  }
  if (count == 1) return;
  // The schedules did go through what they are for.
  for (const char* event : {"crash", "graceful rebalance", "partitions lost", "zombie", "fenced", "transient failure",
                            "refused as too large"}) {
    INFO(event);
    CHECK(coverage[event] > 0);
  }
}

}  // namespace

// The sanitizer build runs a third of the schedules: it is there for memory errors, which the
// first schedules reach as well as the last, and it is several times slower.
#ifdef SLUICE_SANITIZED
constexpr int kScheduleDivisor = 3;
#else
constexpr int kScheduleDivisor = 1;
#endif

TEST_CASE("exactly-once: over random schedules with crashes, rebalances, zombies and fencing, every input's outputs "
          "are committed exactly once, in partition order",
          "[engine][property][eos]") {
  run_schedules(true, 1, 1500 / kScheduleDivisor);
}

TEST_CASE("at-least-once: over random schedules with crashes and rebalances, nothing is lost", "[engine][property]") {
  run_schedules(false, 100'001, 500 / kScheduleDivisor);
}
