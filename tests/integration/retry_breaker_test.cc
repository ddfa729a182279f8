// Retry tiers and the circuit breaker against the dev broker. The downstream topic lives on
// broker 2 and everything else (inbound, tiers, DLQ, the group coordinator) on broker 1, so
// faults injected on broker 2 hit only the sink.

#include <catch2/catch.hpp>

#include <rapidjson/document.h>

#include <map>
#include <set>

#include "common/text.h"
#include "devtools/kafka_tools.h"
#include "devtools/message_mix.h"
#include "support/dev_broker.h"
#include "support/process.h"
#include "support/sluice_daemon.h"
#include "support/wait.h"

using namespace sluice::test;
using namespace sluice::devtools;
using namespace std::chrono_literals;

namespace {

struct Topology {
  DevBroker broker;
  std::string group;

  Topology(const std::string& group_id, const std::vector<std::string>& tiers, int inbound_partitions = 2)
      : broker(topics(tiers, inbound_partitions), 2), group(group_id) {
    for (int p = 0; p < inbound_partitions; ++p) {
      broker.control("leader inbound.email " + std::to_string(p) + " 1");
      broker.control("leader inbound.whatsapp " + std::to_string(p) + " 1");
    }
    for (const std::string& tier : tiers) {
      broker.control("leader " + tier + " 0 1");
      broker.control("leader " + tier + " 1 1");
    }
    broker.control("leader dlq 0 1");
    broker.control("leader clean.whatsapp 0 1");
    broker.control("leader clean.email 0 2");
    broker.control("coord group " + group + " 1");
  }

  static std::vector<TopicSpec> topics(const std::vector<std::string>& tiers, int inbound_partitions) {
    std::vector<TopicSpec> all = {{"inbound.email", inbound_partitions},
                                  {"inbound.whatsapp", inbound_partitions},
                                  {"clean.email", 1},
                                  {"clean.whatsapp", 1},
                                  {"dlq", 1}};
    for (const std::string& tier : tiers) all.push_back({tier, 2});
    return all;
  }

  // The next produce requests to the sink's broker fail with an error librdkafka does not
  // retry by itself, and which sluice treats as transient (the broker's fault, not the data's).
  void fail_next_sink_produce(int times = 1) {
    for (int i = 0; i < times; ++i) broker.control("berr 2 Produce POLICY_VIOLATION 0");
  }
};

TestConfig config_for(const Topology& topology, const std::string& tiers, const std::string& breaker) {
  TestConfig config;
  config.bootstrap = topology.broker.bootstrap();
  config.group_id = topology.group;
  config.extra_yaml = "retry:\n  tiers: " + tiers + "\ncircuit_breaker:\n" + breaker;
  return config;
}

void send(const std::string& bootstrap, const std::string& key, const std::string& value,
          const std::string& topic = "inbound.email") {
  RecordProducer producer(bootstrap);
  KafkaRecord record;
  record.topic = topic;
  record.key = key;
  record.value = value;
  record.headers = {{"trace", "t-" + key}};
  producer.produce(record);
  producer.flush();
}

std::vector<KafkaRecord> with_key(const std::vector<KafkaRecord>& records, const std::string& key) {
  std::vector<KafkaRecord> found;
  for (const KafkaRecord& record : records) {
    if (record.key == key) found.push_back(record);
  }
  return found;
}

const std::string kClosedBreaker = "  failure_threshold: 100\n";

}  // namespace

TEST_CASE("a transiently failed record waits in the first tier, then goes downstream no earlier than due",
          "[integration][retry]") {
  Topology topology("retry-once", {"retry.1s", "retry.2s"});
  TempDir dir;
  SluiceDaemon daemon(config_for(topology, "[1s, 2s]", kClosedBreaker), dir);
  topology.fail_next_sink_produce();
  daemon.start();
  send(topology.broker.bootstrap(), "a", email_event("ann@example.com", "please retry me", "c-a"));
  // Bad data in the same run must never touch a tier.
  send(topology.broker.bootstrap(), "bad", email_event("not-an-email", "invalid", "c-bad"));

  const std::string& bootstrap = topology.broker.bootstrap();
  bool delivered = wait_until([&] { return !with_key(read_topic(bootstrap, "clean.email"), "a").empty(); }, 60s, 100ms);
  INFO(daemon.logs());
  REQUIRE(delivered);
  REQUIRE(wait_until([&] { return group_caught_up(bootstrap, topology.group, {"inbound.email", "retry.1s"}); }, 30s, 100ms));
  REQUIRE(daemon.stop() == 0);

  auto tier = read_topic(bootstrap, "retry.1s");
  REQUIRE(tier.size() == 1);
  CHECK(tier[0].key == "a");
  CHECK(tier[0].value == email_event("ann@example.com", "please retry me", "c-a"));  // unchanged
  CHECK(tier[0].header("trace") == "t-a");
  CHECK(tier[0].header("sluice-retry-count") == "1");
  CHECK(tier[0].header("sluice-original-topic") == "inbound.email");
  CHECK(tier[0].header("sluice-original-offset"));
  CHECK(tier[0].header("sluice-error") == "POLICY_VIOLATION");
  int64_t due = sluice::text::parse_int(tier[0].header("sluice-retry-due").value_or("")).value_or(0);
  CHECK(due > 0);

  auto downstream = with_key(read_topic(bootstrap, "clean.email"), "a");
  REQUIRE(downstream.size() == 1);
  CHECK(downstream[0].header("sluice-retry-count") == "1");
  CHECK_FALSE(downstream[0].header("sluice-error"));
  CHECK(downstream[0].header("trace") == "t-a");
  CHECK(downstream[0].timestamp_ms >= due);  // produced downstream no earlier than its due time

  CHECK(read_topic(bootstrap, "retry.2s").empty());
  auto dlq = read_topic(bootstrap, "dlq");
  REQUIRE(dlq.size() == 1);
  CHECK(dlq[0].key == "bad");
  CHECK(final_counter(daemon.logs(), "sluice_retry_tier_sends_total{tier=\"retry.1s\"}") == 1);
  CHECK(final_counter(daemon.logs(), "sluice_pipeline_outcomes_total{outcome=\"retry\",reason=\"transient_error\"}") == 1);
  CHECK(dlq[0].header("sluice-error") == "schema_violation");
}

TEST_CASE("a record that always fails walks every tier and then reaches the DLQ", "[integration][retry]") {
  Topology topology("retry-exhausted", {"retry.1s", "retry.2s"});
  TempDir dir;
  SluiceDaemon daemon(config_for(topology, "[1s, 2s]", kClosedBreaker), dir);
  topology.fail_next_sink_produce(3);  // the first attempt and one per tier
  daemon.start();
  send(topology.broker.bootstrap(), "doomed", email_event("dan@example.com", "never delivered", "c-d"));
  const std::string& bootstrap = topology.broker.bootstrap();
  bool dead = wait_until([&] { return !read_topic(bootstrap, "dlq").empty(); }, 60s, 100ms);
  INFO(daemon.logs());
  REQUIRE(dead);
  REQUIRE(wait_until([&] { return group_caught_up(bootstrap, topology.group, {"inbound.email", "retry.1s", "retry.2s"}); },
                     30s, 100ms));
  REQUIRE(daemon.stop() == 0);

  CHECK(read_topic(bootstrap, "retry.1s").size() == 1);
  auto second = read_topic(bootstrap, "retry.2s");
  REQUIRE(second.size() == 1);
  CHECK(second[0].header("sluice-retry-count") == "2");
  CHECK(second[0].header("sluice-original-topic") == "inbound.email");
  CHECK(read_topic(bootstrap, "clean.email").empty());

  auto dlq = read_topic(bootstrap, "dlq");
  REQUIRE(dlq.size() == 1);
  CHECK(dlq[0].key == "doomed");
  CHECK(dlq[0].header("trace") == "t-doomed");
  rapidjson::Document envelope;
  envelope.Parse(dlq[0].value->c_str());
  REQUIRE_FALSE(envelope.HasParseError());
  CHECK(envelope["retry_count"].GetInt() == 2);
  CHECK(envelope["max_retries_exceeded"].IsTrue());
  CHECK(std::string(envelope["error"].GetString()) == "retries_exhausted");
  CHECK(std::string(envelope["original_topic"].GetString()) == "inbound.email");
  CHECK(std::string(envelope["original_message"].GetString()) ==
        email_event("dan@example.com", "never delivered", "c-d"));
}

TEST_CASE("a record waiting in a tier does not hold up records of other partitions", "[integration][retry]") {
  Topology topology("retry-no-blocking", {"retry.5s"});
  TempDir dir;
  SluiceDaemon daemon(config_for(topology, "[5s]", kClosedBreaker), dir);
  topology.fail_next_sink_produce();
  daemon.start();
  const std::string& bootstrap = topology.broker.bootstrap();
  send(bootstrap, "slow", email_event("sam@example.com", "i will wait", "c-s"));
  REQUIRE(wait_until([&] { return read_topic(bootstrap, "retry.5s").size() == 1; }, 60s, 50ms));
  int64_t due = sluice::text::parse_int(read_topic(bootstrap, "retry.5s")[0].header("sluice-retry-due").value_or(""))
                    .value_or(0);
  // While "slow" waits, new records on other partitions flow straight through.
  send(bootstrap, "fast-1", email_event("fay@example.com", "no waiting", "c-f1"));
  send(bootstrap, "fast-2", whatsapp_event("+15557770001", "no waiting either", "c-f2"), "inbound.whatsapp");
  REQUIRE(wait_until([&] {
    return !with_key(read_topic(bootstrap, "clean.email"), "fast-1").empty() &&
           !read_topic(bootstrap, "clean.whatsapp").empty();
  }, 30s, 50ms));
  CHECK(sluice::text::now_epoch_ms() < due);
  CHECK(with_key(read_topic(bootstrap, "clean.email"), "slow").empty());
  REQUIRE(wait_until([&] { return !with_key(read_topic(bootstrap, "clean.email"), "slow").empty(); }, 30s, 100ms));
  CHECK(with_key(read_topic(bootstrap, "clean.email"), "slow")[0].timestamp_ms >= due);
  REQUIRE(daemon.stop() == 0);
}

TEST_CASE("an open breaker pauses consumption and writes no retry or DLQ records, and recovery delivers everything, "
          "also after a rebalance during the outage",
          "[integration][breaker][rebalance]") {
  Topology topology("breaker-outage", {"retry.1s"}, 1);
  TempDir dir;
  TestConfig config = config_for(topology, "[1s]",
                                 "  failure_threshold: 3\n  open_timeout: 2s\n  success_threshold: 2\n");
  // Deliveries to the downed broker fail after a second instead of librdkafka's five minutes.
  config.extra_kafka_properties["message.timeout.ms"] = "1000";
  SluiceDaemon daemon(config, dir);
  daemon.start();
  const std::string& bootstrap = topology.broker.bootstrap();
  send(bootstrap, "warmup", email_event("wes@example.com", "before the outage", "c-w"));
  REQUIRE(wait_until([&] { return read_topic(bootstrap, "clean.email").size() == 1; }, 60s, 50ms));

  topology.broker.control("down 2");
  {
    RecordProducer producer(bootstrap);
    for (int i = 0; i < 20; ++i) {
      KafkaRecord record;
      record.topic = "inbound.email";
      record.key = "outage-" + std::to_string(i);
      record.value = email_event("o" + std::to_string(i) + "@example.com", "sent during the outage", "c-o");
      producer.produce(record);
    }
    producer.flush();
  }
  bool opened = wait_until([&] { return daemon.logs().find("\"to\":\"open\"") != std::string::npos; }, 60s, 50ms);
  INFO(daemon.logs());
  REQUIRE(opened);

  // More records during the outage: none of them may end up in a tier or the DLQ, and the
  // committed position must stay behind them.
  {
    RecordProducer producer(bootstrap);
    for (int i = 20; i < 30; ++i) {
      KafkaRecord record;
      record.topic = "inbound.email";
      record.key = "outage-" + std::to_string(i);
      record.value = email_event("o" + std::to_string(i) + "@example.com", "sent during the outage", "c-o");
      producer.produce(record);
    }
    producer.flush();
  }
  // Through at least one more open period (2s) and its failed probe.
  REQUIRE(wait_until([&] {
    std::string logs = daemon.logs();
    size_t first = logs.find("\"to\":\"open\"");
    return first != std::string::npos && logs.find("\"to\":\"open\"", first + 1) != std::string::npos;
  }, 30s, 100ms));
  // Only deliveries that failed while the breaker was still closed went to the tier.
  size_t tier_records_at_open = read_topic(bootstrap, "retry.1s").size();
  CHECK(tier_records_at_open < 3);
  CHECK(read_topic(bootstrap, "dlq").empty());
  auto committed = committed_offsets(bootstrap, topology.group, "inbound.email", 1);
  auto ends = end_offsets(bootstrap, "inbound.email", 1);
  CHECK(committed[0] < ends[0]);

  // A rebalance during the outage: librdkafka keeps a partition's pause across a revoke and
  // the assignment that gives it back, while the engine starts the partition afresh. Unless
  // the assignment resumes it, the records given up at the revoke are never read again.
  auto assignments = [&] {
    const std::string logs = daemon.logs();
    size_t count = 0;
    for (size_t at = logs.find("\"msg\":\"partitions assigned\""); at != std::string::npos;
         at = logs.find("\"msg\":\"partitions assigned\"", at + 1)) {
      ++count;
    }
    return count;
  };
  const size_t assignments_before = assignments();
  topology.broker.control("err Heartbeat REBALANCE_IN_PROGRESS");
  REQUIRE(wait_until([&] { return assignments() > assignments_before; }, 30s, 100ms));

  topology.broker.control("up 2");
  bool recovered = wait_until([&] {
    std::set<std::string> keys;
    for (const KafkaRecord& record : read_topic(bootstrap, "clean.email")) keys.insert(*record.key);
    return keys.size() == 31;
  }, 90s, 200ms);
  REQUIRE(recovered);
  REQUIRE(wait_until([&] { return group_caught_up(bootstrap, topology.group, {"inbound.email", "retry.1s"}); }, 30s, 100ms));
  REQUIRE(daemon.stop() == 0);
  CHECK(daemon.logs().find("\"to\":\"closed\"") != std::string::npos);
  const std::string logs = daemon.logs();
  CHECK(final_counter(logs, "sluice_breaker_transitions_total{sink=\"topic:clean.email\",to=\"open\"}") >= 2);
  CHECK(final_counter(logs, "sluice_breaker_transitions_total{sink=\"topic:clean.email\",to=\"half_open\"}") >= 2);
  CHECK(final_counter(logs, "sluice_breaker_transitions_total{sink=\"topic:clean.email\",to=\"closed\"}") == 1);
  std::map<std::string, int> per_key;
  for (const KafkaRecord& record : read_topic(bootstrap, "clean.email")) per_key[*record.key] += 1;
  CHECK(per_key.size() == 31);
  CHECK(read_topic(bootstrap, "dlq").empty());
  CHECK(read_topic(bootstrap, "retry.1s").size() == tier_records_at_open);
}

TEST_CASE("a rebalance while records wait for their due time loses nothing and processes nothing twice",
          "[integration][retry][rebalance]") {
  Topology topology("retry-rebalance", {"retry.6s"});
  TempDir dir;
  TestConfig config = config_for(topology, "[6s]", kClosedBreaker);
  SluiceDaemon first(config, dir, "first");
  first.start();
  const std::string& bootstrap = topology.broker.bootstrap();
  // One failure per record, one record at a time, so each lands in the tier exactly once.
  for (int i = 1; i <= 3; ++i) {
    std::string key = "held-" + std::to_string(i);
    topology.fail_next_sink_produce();
    send(bootstrap, key, email_event("h" + std::to_string(i) + "@example.com", "waiting through a rebalance", key));
    REQUIRE(wait_until([&] { return read_topic(bootstrap, "retry.6s").size() == static_cast<size_t>(i); }, 60s, 50ms));
  }

  // A second instance joins while the tier records wait: the partitions are split anew.
  SluiceDaemon second(config, dir, "second");
  second.start();
  bool delivered = wait_until([&] {
    std::set<std::string> keys;
    for (const KafkaRecord& record : read_topic(bootstrap, "clean.email")) keys.insert(*record.key);
    return keys.size() == 3;
  }, 90s, 200ms);
  INFO(first.logs() + "\n----\n" + second.logs());
  REQUIRE(delivered);
  REQUIRE(wait_until([&] { return group_caught_up(bootstrap, topology.group, {"inbound.email", "retry.6s"}); }, 60s,
                     200ms));
  REQUIRE(second.stop() == 0);
  REQUIRE(first.stop() == 0);
  std::map<std::string, int> per_key;
  for (const KafkaRecord& record : read_topic(bootstrap, "clean.email")) per_key[*record.key] += 1;
  CHECK(per_key == std::map<std::string, int>{{"held-1", 1}, {"held-2", 1}, {"held-3", 1}});
  CHECK(read_topic(bootstrap, "dlq").empty());
  // The rebalance really happened while the records waited: the second instance got
  // partitions and the first gave some up.
  CHECK(second.logs().find("partitions assigned") != std::string::npos);
  CHECK(first.logs().find("partitions revoked") != std::string::npos);
  CHECK(read_topic(bootstrap, "retry.6s").size() == 3);
}

TEST_CASE("sluice replay re-drives DLQ records to their original topic, and the loop guard stops repeats",
          "[integration][replay]") {
  Topology topology("replay", {});
  TempDir dir;
  // No tiers: a transient failure goes straight to the DLQ (retries_exhausted).
  SluiceDaemon daemon(config_for(topology, "[]", kClosedBreaker), dir);
  topology.fail_next_sink_produce();
  daemon.start();
  const std::string& bootstrap = topology.broker.bootstrap();
  const std::string good = email_event("rita@example.com", "deliver me after all", "c-r");
  send(bootstrap, "retry-me", good);
  REQUIRE(wait_until([&] { return read_topic(bootstrap, "dlq").size() == 1; }, 60s, 50ms));
  send(bootstrap, "bad", email_event("not-an-email", "always invalid", "c-b"));
  REQUIRE(wait_until([&] { return read_topic(bootstrap, "dlq").size() == 2; }, 60s, 50ms));
  auto inbound_end = [&] { return end_offsets(bootstrap, "inbound.email", 2); };
  const auto before = inbound_end();

  std::string output;
  // A dry run lists what it would do and writes nothing.
  CHECK(run_command({SLUICE_BIN, "replay", "--config", daemon.config_path(), "--from", "dlq", "--dry-run"}, &output) == 0);
  CHECK(output.find("would replay dlq/0/0 -> inbound.email (retries_exhausted)") != std::string::npos);
  CHECK(output.find("dry run: scanned 2, selected 2, would replay 2,") != std::string::npos);
  CHECK(inbound_end() == before);

  // The real thing, for the transient failure only: it comes back and is delivered.
  CHECK(run_command({SLUICE_BIN, "replay", "--config", daemon.config_path(), "--from", "dlq", "--where",
                     "reason=retries_exhausted"},
                    &output) == 0);
  CHECK(output.find("selected 1, replayed 1") != std::string::npos);
  REQUIRE(wait_until([&] { return !with_key(read_topic(bootstrap, "clean.email"), "retry-me").empty(); }, 60s, 50ms));
  auto delivered = with_key(read_topic(bootstrap, "clean.email"), "retry-me");
  REQUIRE(delivered.size() == 1);
  CHECK(delivered[0].value == good);
  CHECK(delivered[0].header("trace") == "t-retry-me");
  CHECK(delivered[0].header("sluice-replay-count") == "1");

  // The schema violation fails again after a replay; with --max-replays 1 the second replay
  // of its re-dead-lettered copy is refused, and reported with exit code 3.
  CHECK(run_command({SLUICE_BIN, "replay", "--config", daemon.config_path(), "--from", "dlq", "--where",
                     "reason=schema_violation", "--max-replays", "1"},
                    &output) == 0);
  REQUIRE(wait_until([&] { return with_key(read_topic(bootstrap, "dlq"), "bad").size() == 2; }, 60s, 50ms));
  CHECK(with_key(read_topic(bootstrap, "dlq"), "bad")[1].header("sluice-replay-count") == "1");
  CHECK(run_command({SLUICE_BIN, "replay", "--config", daemon.config_path(), "--from", "dlq", "--where",
                     "reason=schema_violation", "--max-replays", "1"},
                    &output) == 3);
  CHECK(output.find("skipped by loop guard 1") != std::string::npos);
  // The copy that was still allowed comes back to the DLQ once more.
  REQUIRE(wait_until([&] { return with_key(read_topic(bootstrap, "dlq"), "bad").size() == 3; }, 60s, 50ms));
  REQUIRE(daemon.stop() == 0);
  CHECK(final_counter(daemon.logs(), "sluice_pipeline_replayed_records_total{topic=\"inbound.email\"}") == 3);
  for (const KafkaRecord& record : read_topic(bootstrap, "inbound.email")) {
    CHECK(record.header("sluice-replay-count").value_or("0") != "2");  // never past the guard
  }
}
