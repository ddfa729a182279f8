// Input built to hurt the daemon rather than merely malformed: a record whose dead letter
// cannot fit in one Kafka message as it stands, and records carrying sluice's own header names
// (sluice-original-topic, sluice-retry-due, ...) forged by whoever wrote them. Neither may block
// a partition, and sluice-* headers from outside are never taken for sluice's own.

#include <catch2/catch.hpp>

#include <rapidjson/document.h>

#include <optional>
#include <string>
#include <vector>

#include "common/text.h"
#include "devtools/kafka_tools.h"
#include "devtools/message_mix.h"
#include "support/dev_broker.h"
#include "support/sha256.h"
#include "support/sluice_daemon.h"
#include "support/wait.h"

using namespace sluice::test;
using namespace sluice::devtools;
using namespace std::chrono_literals;

namespace {

void produce(const std::string& bootstrap, const std::vector<KafkaRecord>& records) {
  RecordProducer producer(bootstrap);
  for (const KafkaRecord& record : records) producer.produce(record);
  producer.flush();
}

std::vector<KafkaRecord> with_key(const std::vector<KafkaRecord>& records, const std::string& key) {
  std::vector<KafkaRecord> found;
  for (const KafkaRecord& record : records) {
    if (record.key == key) found.push_back(record);
  }
  return found;
}

// Every value of the headers named `name` (a record may carry a name more than once).
std::vector<std::string> header_values(const KafkaRecord& record, const std::string& name) {
  std::vector<std::string> values;
  for (const auto& [header_name, value] : record.headers) {
    if (header_name == name) values.push_back(value);
  }
  return values;
}

// The last `bytes` characters of `text`, from the start of a line.
std::string tail(const std::string& text, size_t bytes) {
  if (text.size() <= bytes) return text;
  size_t from = text.find('\n', text.size() - bytes);
  return from == std::string::npos ? std::string() : text.substr(from + 1);
}

// The last header named `name`, or "<absent>": comparable, and printed when a check fails.
std::string header_of(const KafkaRecord& record, const std::string& name) {
  return record.header(name).value_or("<absent>");
}

bool parse(const KafkaRecord& record, rapidjson::Document& document) {
  if (!record.value) return false;
  document.Parse(record.value->c_str());
  return !document.HasParseError() && document.IsObject();
}

std::string string_member(const rapidjson::Document& document, const char* name) {
  auto it = document.FindMember(name);
  return it != document.MemberEnd() && it->value.IsString() ? std::string(it->value.GetString()) : std::string("<absent>");
}

int64_t int_member(const rapidjson::Document& document, const char* name) {
  auto it = document.FindMember(name);
  return it != document.MemberEnd() && it->value.IsInt64() ? it->value.GetInt64() : -1;
}

bool true_member(const rapidjson::Document& document, const char* name) {
  auto it = document.FindMember(name);
  return it != document.MemberEnd() && it->value.IsTrue();
}

// The headers an outsider writes to pass a record off as one that came out of sluice's tiers.
const std::vector<std::pair<std::string, std::string>> kForgedOrigin = {
    {"trace", "t-forged"},
    {"sluice-original-topic", "evil.topic"},
    {"sluice-original-partition", "7"},
    {"sluice-original-offset", "999"},
};

// Two brokers, as in the retry tests: the downstream topic on broker 2 and everything else
// (inbound, tiers, DLQ, the group coordinator) on broker 1, so a produce error injected on
// broker 2 fails exactly one forwarding attempt.
struct Topology {
  DevBroker broker;
  std::string group;

  explicit Topology(const std::string& group_id)
      : broker({{"inbound.email", 1},
                {"inbound.whatsapp", 1},
                {"clean.email", 1},
                {"clean.whatsapp", 1},
                {"dlq", 1},
                {"retry.1s", 2},
                {"retry.2s", 2}},
               2),
        group(group_id) {
    broker.control("leader inbound.email 0 1");
    broker.control("leader inbound.whatsapp 0 1");
    for (const std::string tier : {"retry.1s", "retry.2s"}) {
      broker.control("leader " + tier + " 0 1");
      broker.control("leader " + tier + " 1 1");
    }
    broker.control("leader dlq 0 1");
    broker.control("leader clean.whatsapp 0 1");
    broker.control("leader clean.email 0 2");
    broker.control("coord group " + group + " 1");
  }

  const std::string& bootstrap() const { return broker.bootstrap(); }

  // The next produce request to the downstream topic fails with an error librdkafka does not
  // retry by itself and sluice treats as transient.
  void fail_next_sink_produce() { broker.control("berr 2 Produce POLICY_VIOLATION 0"); }

  TestConfig config() const {
    TestConfig config;
    config.bootstrap = broker.bootstrap();
    config.group_id = group;
    config.drain_timeout = "3s";
    config.extra_yaml = "retry:\n  tiers: [1s, 2s]\ncircuit_breaker:\n  failure_threshold: 100\n";
    return config;
  }
};

KafkaRecord inbound_email(const std::string& key, const std::string& value,
                          const std::vector<std::pair<std::string, std::string>>& headers) {
  KafkaRecord record;
  record.topic = "inbound.email";
  record.partition = 0;
  record.key = key;
  record.value = value;
  record.headers = headers;
  return record;
}

}  // namespace

// ---- one record must never block a partition ---------------------------------------------

TEST_CASE("hostile: a record whose dead letter would exceed message.max.bytes because of its 600 KB key is "
          "dead-lettered with the key embedded truncated, and its partition keeps committing",
          "[integration][hostile][dlq]") {
  DevBroker broker({{"inbound.email", 1},
                    {"inbound.whatsapp", 1},
                    {"clean.email", 1},
                    {"clean.whatsapp", 1},
                    {"dlq", 1},
                    {"retry.1s", 1}});
  TempDir dir;
  TestConfig config;
  config.bootstrap = broker.bootstrap();
  config.group_id = "hostile-huge-key";
  config.drain_timeout = "3s";
  config.extra_yaml = "retry:\n  tiers: [1s]\n";
  SluiceDaemon daemon(config, dir);

  // 614400 bytes of printable text that is not one byte repeated, so a prefix and a digest
  // really say which bytes were kept. As the DLQ record's key and inside its envelope it
  // would take twice that, past the producer's 1 MB message.max.bytes.
  std::string huge_key;
  huge_key.reserve(614400);
  for (size_t i = 0; huge_key.size() < 614400; ++i) huge_key += "k" + std::to_string(i) + "-";
  huge_key.resize(614400);
  const std::string not_json = "this value is not JSON";
  const std::string valid = email_event("vera@example.com", "behind the huge key", "c-behind");
  produce(broker.bootstrap(), {inbound_email(huge_key, not_json, {}), inbound_email("behind", valid, {})});
  daemon.start();

  // The record behind it is forwarded either way (records of a partition may finish out of
  // order); the one with the huge key must reach the DLQ, and the commit must pass both.
  bool forwarded = wait_until([&] { return !with_key(read_topic(broker.bootstrap(), "clean.email"), "behind").empty(); },
                              60s, 100ms);
  {
    INFO(daemon.logs());
    REQUIRE(forwarded);
  }
  bool dead_lettered = wait_until([&] { return !read_topic(broker.bootstrap(), "dlq").empty(); }, 20s, 100ms);
  bool caught_up = dead_lettered && wait_until([&] {
    return group_caught_up(broker.bootstrap(), config.group_id, {"inbound.email"});
  }, 30s, 100ms);
  {
    const auto committed = committed_offsets(broker.bootstrap(), config.group_id, "inbound.email", 1);
    INFO("committed offset of inbound.email/0: " << (committed.count(0) != 0 ? committed.at(0) : -1)
                                                 << ", end offset 2");
    INFO(tail(daemon.logs(), 4000));
    REQUIRE(dead_lettered);
    REQUIRE(caught_up);
  }

  std::vector<KafkaRecord> dlq = read_topic(broker.bootstrap(), "dlq");
  REQUIRE(dlq.size() == 1);
  CHECK(header_of(dlq[0], "sluice-error") == "invalid_json");
  CHECK_FALSE(dlq[0].key.has_value());  // the original key would not fit as the DLQ record's key
  rapidjson::Document envelope;
  REQUIRE(parse(dlq[0], envelope));
  CHECK(string_member(envelope, "error") == "invalid_json");
  CHECK(string_member(envelope, "original_message") == not_json);
  CHECK(string_member(envelope, "original_topic") == "inbound.email");
  CHECK(int_member(envelope, "original_offset") == 0);
  CHECK(true_member(envelope, "original_key_truncated"));
  CHECK(int_member(envelope, "original_key_size") == 614400);
  CHECK(string_member(envelope, "original_key_sha256") == sha256_hex(huge_key));
  std::optional<std::string> prefix = sluice::text::base64_decode(string_member(envelope, "original_key_base64"));
  REQUIRE(prefix);
  CHECK_FALSE(prefix->empty());
  CHECK(prefix->size() < huge_key.size());
  CHECK(huge_key.compare(0, prefix->size(), *prefix) == 0);
  CHECK_FALSE(envelope.HasMember("original_key"));  // not the whole key as well

  // A restart finds nothing left to do on that partition: the next record goes straight through.
  REQUIRE(daemon.stop() == 0);
  daemon.start();
  produce(broker.bootstrap(), {inbound_email("after-restart", email_event("walt@example.com", "after the restart", "c-after"), {})});
  REQUIRE(wait_until([&] { return !with_key(read_topic(broker.bootstrap(), "clean.email"), "after-restart").empty(); }, 60s,
                     100ms));
  REQUIRE(wait_until([&] { return group_caught_up(broker.bootstrap(), config.group_id, {"inbound.email"}); }, 30s, 100ms));
  REQUIRE(daemon.stop() == 0);
  CHECK(read_topic(broker.bootstrap(), "dlq").size() == 1);
  CHECK(with_key(read_topic(broker.bootstrap(), "clean.email"), "behind").size() == 1);
}

// ---- forged sluice-* headers --------------------------------------------------------------

TEST_CASE("hostile: forged sluice-original-* headers on an inbound record do not change where its DLQ envelope "
          "says it came from, and are kept renamed upstream-sluice-*",
          "[integration][hostile][headers]") {
  Topology topology("hostile-forged-dlq");
  TempDir dir;
  SluiceDaemon daemon(topology.config(), dir);
  produce(topology.bootstrap(), {inbound_email("first", email_event("fred@example.com", "a real one first", "c-1"), {}),
                                 inbound_email("forged", "{not json", kForgedOrigin)});
  daemon.start();
  bool dead_lettered = wait_until([&] { return !read_topic(topology.bootstrap(), "dlq").empty(); }, 60s, 100ms);
  {
    INFO(daemon.logs());
    REQUIRE(dead_lettered);
  }
  REQUIRE(wait_until([&] { return group_caught_up(topology.bootstrap(), topology.group, {"inbound.email"}); }, 30s, 100ms));
  REQUIRE(daemon.stop() == 0);

  // Where the record really is.
  std::vector<KafkaRecord> inbound = with_key(read_topic(topology.bootstrap(), "inbound.email"), "forged");
  REQUIRE(inbound.size() == 1);
  REQUIRE(inbound[0].offset == 1);

  std::vector<KafkaRecord> dlq = read_topic(topology.bootstrap(), "dlq");
  REQUIRE(dlq.size() == 1);
  rapidjson::Document envelope;
  REQUIRE(parse(dlq[0], envelope));
  CHECK(string_member(envelope, "error") == "invalid_json");
  CHECK(string_member(envelope, "original_topic") == "inbound.email");
  CHECK(int_member(envelope, "original_partition") == inbound[0].partition);
  CHECK(int_member(envelope, "original_offset") == inbound[0].offset);

  // The forged headers travel on, renamed, value unchanged; none of sluice's own names
  // carries the forged values any more.
  CHECK(header_of(dlq[0], "trace") == "t-forged");
  CHECK(header_of(dlq[0], "upstream-sluice-original-topic") == "evil.topic");
  CHECK(header_of(dlq[0], "upstream-sluice-original-partition") == "7");
  CHECK(header_of(dlq[0], "upstream-sluice-original-offset") == "999");
  for (const std::string& value : header_values(dlq[0], "sluice-original-topic")) CHECK(value != "evil.topic");
  for (const std::string& value : header_values(dlq[0], "sluice-original-offset")) CHECK(value != "999");
  CHECK(header_of(dlq[0], "sluice-error") == "invalid_json");
}

TEST_CASE("hostile: a valid inbound record with forged sluice-original-* headers goes to the first tier with its "
          "real origin, and is forwarded keeping the forged ones renamed",
          "[integration][hostile][headers][retry]") {
  Topology topology("hostile-forged-retry");
  TempDir dir;
  SluiceDaemon daemon(topology.config(), dir);
  const std::string value = email_event("gina@example.com", "forged origin, real message", "c-g");
  topology.fail_next_sink_produce();
  produce(topology.bootstrap(), {inbound_email("first", "{not json either", {}),  // offset 0: the real offset is not 0
                                 inbound_email("forged", value, kForgedOrigin)});
  daemon.start();
  bool forwarded = wait_until([&] { return !with_key(read_topic(topology.bootstrap(), "clean.email"), "forged").empty(); },
                              60s, 100ms);
  {
    INFO(daemon.logs());
    REQUIRE(forwarded);
  }
  REQUIRE(wait_until([&] {
    return group_caught_up(topology.bootstrap(), topology.group, {"inbound.email", "retry.1s", "retry.2s"});
  }, 30s, 100ms));
  REQUIRE(daemon.stop() == 0);

  std::vector<KafkaRecord> tier = read_topic(topology.bootstrap(), "retry.1s");
  REQUIRE(tier.size() == 1);
  CHECK(tier[0].key == "forged");
  CHECK(tier[0].value == value);
  CHECK(header_of(tier[0], "sluice-retry-count") == "1");
  CHECK(header_of(tier[0], "sluice-original-topic") == "inbound.email");
  CHECK(header_of(tier[0], "sluice-original-partition") == "0");
  CHECK(header_of(tier[0], "sluice-original-offset") == "1");
  CHECK(header_of(tier[0], "upstream-sluice-original-topic") == "evil.topic");
  CHECK(read_topic(topology.bootstrap(), "retry.2s").empty());

  std::vector<KafkaRecord> downstream = with_key(read_topic(topology.bootstrap(), "clean.email"), "forged");
  REQUIRE(downstream.size() == 1);
  CHECK(downstream[0].value == value);
  CHECK(header_of(downstream[0], "trace") == "t-forged");
  CHECK(header_of(downstream[0], "upstream-sluice-original-topic") == "evil.topic");
  CHECK(header_of(downstream[0], "upstream-sluice-original-offset") == "999");
  for (const std::string& header_value : header_values(downstream[0], "sluice-original-topic")) {
    CHECK(header_value != "evil.topic");
  }
  // Only the "first" record (not JSON) went to the DLQ.
  std::vector<KafkaRecord> dlq = read_topic(topology.bootstrap(), "dlq");
  REQUIRE(dlq.size() == 1);
  CHECK(dlq[0].key == "first");
}

TEST_CASE("hostile: a tier record with a forged sluice-retry-due a day ahead is held no longer than its tier's "
          "delay, and does not hold up the records behind it",
          "[integration][hostile][headers][retry]") {
  Topology topology("hostile-forged-due");
  TempDir dir;
  TestConfig config = topology.config();
  config.extra_yaml = "retry:\n  tiers: [1s]\ncircuit_breaker:\n  failure_threshold: 100\n";
  SluiceDaemon daemon(config, dir);
  daemon.start();
  // Wait for the group to be joined, so the records below are read from the moment they are
  // written, and the time to forward them measures the daemon's holding only.
  REQUIRE(wait_until([&] { return daemon.logs().find("\"msg\":\"partitions assigned\"") != std::string::npos; }, 30s,
                     50ms));

  const int64_t now_ms = sluice::text::now_epoch_ms();
  auto tier_record = [&](const std::string& key, int64_t due_ms, int32_t partition) {
    KafkaRecord record;
    record.topic = "retry.1s";
    record.partition = partition;
    record.key = key;
    record.value = email_event(key + "@example.com", "written straight into a tier", "c-" + key);
    record.headers = {{"sluice-retry-count", "1"},
                      {"sluice-retry-due", std::to_string(due_ms)},
                      {"sluice-original-topic", "inbound.email"},
                      {"sluice-original-partition", "0"},
                      {"sluice-original-offset", "0"},
                      {"sluice-error", "POLICY_VIOLATION"}};
    return record;
  };
  const auto written = std::chrono::steady_clock::now();
  // The two on one partition, the second behind the first; a third with a normal due time on
  // the tier's other partition shows the tier is consumed at all.
  produce(topology.bootstrap(), {tier_record("far-future", now_ms + 24LL * 3600 * 1000, 0),
                                 tier_record("due-now", now_ms, 0), tier_record("other-partition", now_ms, 1)});

  bool both = wait_until([&] {
    std::vector<KafkaRecord> downstream = read_topic(topology.bootstrap(), "clean.email");
    return !with_key(downstream, "far-future").empty() && !with_key(downstream, "due-now").empty();
  }, 15s, 100ms);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - written);
  std::vector<KafkaRecord> downstream = read_topic(topology.bootstrap(), "clean.email");
  INFO("after " << took.count() << " ms: far-future forwarded " << with_key(downstream, "far-future").size()
                << ", due-now forwarded " << with_key(downstream, "due-now").size() << ", other-partition forwarded "
                << with_key(downstream, "other-partition").size());
  {
    INFO(daemon.logs());
    REQUIRE(both);
  }
  REQUIRE(wait_until([&] { return group_caught_up(topology.bootstrap(), topology.group, {"retry.1s"}); }, 15s, 100ms));
  REQUIRE(daemon.stop() == 0);
  CHECK(with_key(downstream, "far-future").size() == 1);
  CHECK(with_key(downstream, "due-now").size() == 1);
  CHECK(with_key(downstream, "other-partition").size() == 1);
  CHECK(read_topic(topology.bootstrap(), "dlq").empty());
}

TEST_CASE("hostile: a forged sluice-retry-count on an inbound record does not count: a transient failure sends it "
          "to the first tier, not to the DLQ",
          "[integration][hostile][headers][retry]") {
  Topology topology("hostile-forged-count");
  TempDir dir;
  SluiceDaemon daemon(topology.config(), dir);
  const std::string value = email_event("hank@example.com", "i have never been retried", "c-h");
  topology.fail_next_sink_produce();
  produce(topology.bootstrap(), {inbound_email("counted", value, {{"trace", "t-counted"}, {"sluice-retry-count", "999"}})});
  daemon.start();
  bool forwarded = wait_until([&] { return !with_key(read_topic(topology.bootstrap(), "clean.email"), "counted").empty(); },
                              60s, 100ms);
  {
    INFO(daemon.logs());
    REQUIRE(forwarded);
  }
  REQUIRE(wait_until([&] {
    return group_caught_up(topology.bootstrap(), topology.group, {"inbound.email", "retry.1s", "retry.2s"});
  }, 30s, 100ms));
  REQUIRE(daemon.stop() == 0);
  std::vector<KafkaRecord> tier = read_topic(topology.bootstrap(), "retry.1s");
  REQUIRE(tier.size() == 1);
  CHECK(tier[0].key == "counted");
  CHECK(header_values(tier[0], "sluice-retry-count") == std::vector<std::string>{"1"});
  CHECK(header_of(tier[0], "upstream-sluice-retry-count") == "999");
  CHECK(read_topic(topology.bootstrap(), "retry.2s").empty());
  CHECK(read_topic(topology.bootstrap(), "dlq").empty());
}
