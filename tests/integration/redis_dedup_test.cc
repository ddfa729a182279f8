// Dedup shared through a real redis-server (Debian's, started by the test on a free loopback
// port): several instances, Redis outages, and keys written by the reference Python detector.

#include <catch2/catch.hpp>

#include <map>
#include <set>

#include "devtools/kafka_tools.h"
#include "devtools/message_mix.h"
#include "support/dev_broker.h"
#include "support/http_get.h"
#include "support/prometheus_text.h"
#include "support/process.h"
#include "support/redis_server.h"
#include "support/sluice_daemon.h"
#include "support/wait.h"

using namespace sluice::test;
using namespace sluice::devtools;
using namespace std::chrono_literals;

namespace {

const std::vector<std::string> kInboundTopics = {"inbound.email", "inbound.whatsapp"};

const std::vector<TopicSpec> kTopics = {{"inbound.email", 2}, {"inbound.whatsapp", 2}, {"clean.email", 1},
                                        {"clean.whatsapp", 1}, {"dlq", 1},            {"retry.1s", 2}};

TestConfig redis_config(const DevBroker& broker, const RedisServer& redis, const std::string& group) {
  TestConfig config;
  config.bootstrap = broker.bootstrap();
  config.group_id = group;
  config.dedup_backend = "redis";
  config.redis_url = redis.url(3);  // a db index other than 0, to check it is honoured
  config.extra_yaml = "retry:\n  tiers: [1s]\n";
  return config;
}

// The same content under two keys, on two topics: `copies` distinct messages, each twice.
std::vector<KafkaRecord> twice_each(int copies, const std::string& prefix) {
  std::vector<KafkaRecord> records;
  for (int i = 0; i < copies; ++i) {
    std::string value = email_event(prefix + std::to_string(i) + "@example.com", "shared content", prefix);
    for (const char* topic : {"inbound.email", "inbound.whatsapp"}) {
      KafkaRecord record;
      record.topic = topic;
      record.key = prefix + std::to_string(i) + "@" + topic;
      record.value = value;
      records.push_back(record);
    }
  }
  return records;
}

void produce(const std::string& bootstrap, const std::vector<KafkaRecord>& records) {
  RecordProducer producer(bootstrap);
  for (const KafkaRecord& record : records) producer.produce(record);
  producer.flush();
}

std::map<std::string, int> forwarded_values(const std::string& bootstrap) {
  std::map<std::string, int> values;
  for (const KafkaRecord& record : read_topic(bootstrap, "clean.email")) values[*record.value] += 1;
  return values;
}

// Every one of `distinct` contents reached clean.email, each exactly once.
void check_forwarded_once_each(const std::string& bootstrap, size_t distinct) {
  auto values = forwarded_values(bootstrap);
  CHECK(values.size() == distinct);
  for (const auto& [value, count] : values) CHECK(count == 1);
}

bool has_partitions(const SluiceDaemon& daemon) {
  return daemon.logs().find("partitions assigned") != std::string::npos;
}

}  // namespace

TEST_CASE("redis dedup: two instances in one group forward each distinct message exactly once",
          "[integration][redis]") {
  DevBroker broker(kTopics);
  RedisServer redis;
  TempDir dir;
  TestConfig config = redis_config(broker, redis, "redis-two");
  SluiceDaemon first(config, dir, "first");
  SluiceDaemon second(config, dir, "second");
  first.start();
  second.start();
  // Both members own partitions before the records arrive, so copies meet in different
  // instances.
  REQUIRE(wait_until([&] { return has_partitions(first) && has_partitions(second); }, 60s, 100ms));
  auto records = twice_each(100, "two");
  produce(broker.bootstrap(), records);
  bool all = wait_until([&] { return group_caught_up(broker.bootstrap(), config.group_id, kInboundTopics); }, 90s, 200ms);
  INFO(first.logs() + "\n----\n" + second.logs());
  REQUIRE(all);
  REQUIRE(first.stop() == 0);
  REQUIRE(second.stop() == 0);
  check_forwarded_once_each(broker.bootstrap(), 100);
  // The keys live in the configured db, under the reference key space.
  CHECK(std::stoi(redis.command({"DBSIZE"}, 3).value_or("0")) == 100);
  CHECK(redis.command({"DBSIZE"}, 0).value_or("0") == "0");
}

TEST_CASE("redis dedup: a record whose forward failed is not blocked by its own reservation when it comes back",
          "[integration][redis]") {
  DevBroker broker(kTopics, 2);
  broker.control("leader clean.email 0 2");
  for (const std::string topic : {"inbound.email", "inbound.whatsapp", "retry.1s"}) {
    broker.control("leader " + topic + " 0 1");
    broker.control("leader " + topic + " 1 1");
  }
  broker.control("leader dlq 0 1");
  broker.control("coord group redis-comeback 1");
  RedisServer redis;
  TempDir dir;
  TestConfig config = redis_config(broker, redis, "redis-comeback");
  config.extra_yaml += "circuit_breaker:\n  failure_threshold: 100\n";
  SluiceDaemon daemon(config, dir);
  broker.control("berr 2 Produce POLICY_VIOLATION 0");  // the first attempt fails
  daemon.start();
  KafkaRecord record;
  record.topic = "inbound.email";
  record.key = "comeback";
  record.value = email_event("carl@example.com", "fails once", "c-1");
  produce(broker.bootstrap(), {record});
  bool delivered = wait_until([&] { return forwarded_values(broker.bootstrap()).size() == 1; }, 60s, 100ms);
  INFO(daemon.logs());
  REQUIRE(delivered);
  REQUIRE(daemon.stop() == 0);
  CHECK(read_topic(broker.bootstrap(), "retry.1s").size() == 1);  // it did fail once
  CHECK(read_topic(broker.bootstrap(), "dlq").empty());
}

TEST_CASE("redis dedup: Redis down for 25 s with on_unavailable pause — consumption waits, nothing lost or doubled",
          "[integration][redis]") {
  DevBroker broker(kTopics);
  RedisServer redis;
  TempDir dir;
  TestConfig config = redis_config(broker, redis, "redis-pause");
  SluiceDaemon daemon(config, dir);
  daemon.start();
  auto before = twice_each(30, "before");
  produce(broker.bootstrap(), before);
  REQUIRE(wait_until([&] { return forwarded_values(broker.bootstrap()).size() == 30; }, 60s, 100ms));

  redis.stop();
  auto outage_start = std::chrono::steady_clock::now();
  auto during = twice_each(30, "during");
  produce(broker.bootstrap(), during);
  bool paused = wait_until([&] { return daemon.logs().find("dedup store unavailable; pausing") != std::string::npos; },
                           30s, 100ms);
  INFO(daemon.logs());
  REQUIRE(paused);
  // Readiness says so, and names the store as the reason.
  auto readyz = [&] { return http_get("127.0.0.1", daemon.admin_port(), "/readyz?verbose"); };
  REQUIRE(wait_until([&] { return readyz().status == 503; }, 10s, 50ms));
  CHECK(readyz().body.find("[-]dedup store failed") != std::string::npos);
  // Long enough for the records waiting on the store to reach a 10 s step of the general
  // backoff: when the engine used it for the store too, consumption resumed 7.6 s after
  // Redis came back here (up to ~11 s in general).
  REQUIRE(wait_until([&] { return std::chrono::steady_clock::now() - outage_start >= 25s; }, 40s, 200ms));
  CHECK(forwarded_values(broker.bootstrap()).size() == 30);  // nothing went through unchecked
  CHECK_FALSE(group_caught_up(broker.bootstrap(), config.group_id, kInboundTopics));
  redis.start();  // empty: the fingerprints of "before" are gone with the old process
  const auto back = std::chrono::steady_clock::now();

  // The store retries at most every 5 s (its backoff, reached during the outage), and the
  // engine asks it often enough to notice at once: the pipeline is back within 5 s of Redis,
  // plus a margin for the engine's recheck (250 ms) and a loaded machine.
  bool available = wait_until([&] { return daemon.logs().find("dedup store available again") != std::string::npos; },
                              30s, 20ms);
  const double reconnect_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - back).count();
  INFO("dedup available again " << reconnect_seconds << " s after Redis came back");
  REQUIRE(available);
  CHECK(reconnect_seconds <= 6.5);
  bool resumed = wait_until([&] { return group_caught_up(broker.bootstrap(), config.group_id, kInboundTopics); }, 60s, 200ms);
  REQUIRE(resumed);
  CHECK(wait_until([&] { return readyz().status == 200; }, 10s, 50ms));
  // The outage was counted per operation, and the store answers again.
  const std::string metrics = http_get("127.0.0.1", daemon.admin_port(), "/metrics").body;
  CHECK(metric_value(metrics, "sluice_dedup_store_errors_total", {{"backend", "redis"}, {"operation", "reserve"}}) > 0);
  REQUIRE(daemon.stop() == 0);
  check_forwarded_once_each(broker.bootstrap(), 60);
}

TEST_CASE("redis dedup: with on_unavailable forward_unchecked the messages flow and the unchecked ones are counted",
          "[integration][redis]") {
  DevBroker broker(kTopics);
  RedisServer redis;
  TempDir dir;
  TestConfig config = redis_config(broker, redis, "redis-unchecked");
  config.dedup_on_unavailable = "forward_unchecked";
  SluiceDaemon daemon(config, dir);
  daemon.start();
  produce(broker.bootstrap(), twice_each(5, "warm"));
  REQUIRE(wait_until([&] { return forwarded_values(broker.bootstrap()).size() == 5; }, 60s, 100ms));
  redis.stop();
  std::vector<KafkaRecord> unchecked;
  for (int i = 0; i < 20; ++i) {
    KafkaRecord record;
    record.topic = "inbound.email";
    record.key = "u" + std::to_string(i);
    record.value = email_event("u" + std::to_string(i) + "@example.com", "no dedup now", "u");
    unchecked.push_back(record);
  }
  produce(broker.bootstrap(), unchecked);
  bool flowed = wait_until([&] { return forwarded_values(broker.bootstrap()).size() == 25; }, 60s, 100ms);
  INFO(daemon.logs());
  REQUIRE(flowed);
  REQUIRE(daemon.stop() == 0);
  CHECK(final_counter(daemon.logs(), "sluice_dedup_lookups_total{backend=\"redis\",result=\"unchecked\"}") == 20);
}

TEST_CASE("redis dedup: a key written by the reference Python detector makes sluice treat the message as a duplicate",
          "[integration][redis]") {
  DevBroker broker(kTopics);
  RedisServer redis;
  TempDir dir;
  const std::string seen = email_event("pat@example.com", "already seen by the python fleet", "c-py");
  const std::string fresh = email_event("pat@example.com", "new to everyone", "c-new");
  // The reference DuplicateDetector, as written, run by Debian's python3 with python3-redis.
  std::string script = R"PY(
import hashlib, json, sys
import redis
class DuplicateDetector:
    def __init__(self, redis_client, window_minutes=1440):
        self.redis = redis_client
        self.window_seconds = window_minutes * 60
    def is_duplicate(self, message):
        fingerprint = self._create_fingerprint(message)
        key = f"duplicate_check:{fingerprint}"
        if self.redis.exists(key):
            return True
        self.redis.setex(key, self.window_seconds, "1")
        return False
    def _create_fingerprint(self, message):
        content_to_hash = {k: v for k, v in message.items()
                           if k not in ['timestamp', 'processed_at', 'correlation_id', 'sequence_number']}
        if 'payload' in content_to_hash:
            payload = content_to_hash['payload']
            if isinstance(payload, dict):
                content_to_hash['payload'] = {k: v for k, v in payload.items() if k not in ['timestamp', 'received_at']}
        message_str = json.dumps(content_to_hash, sort_keys=True, default=str)
        return hashlib.sha256(message_str.encode()).hexdigest()
detector = DuplicateDetector(redis.Redis(host='127.0.0.1', port=int(sys.argv[1]), db=3))
print(detector.is_duplicate(json.loads(sys.stdin.read())))
)PY";
  write_file(dir.file("detector.py"), script);
  std::string output;
  REQUIRE(run_command({"/usr/bin/python3", dir.file("detector.py"), std::to_string(redis.port())}, &output, 30s, seen) ==
          0);
  REQUIRE(output == "False\n");  // the python fleet saw it first, and wrote its key

  SluiceDaemon daemon(redis_config(broker, redis, "redis-python"), dir);
  daemon.start();
  KafkaRecord first;
  first.topic = "inbound.email";
  first.key = "seen";
  first.value = seen;
  KafkaRecord second = first;
  second.key = "fresh";
  second.value = fresh;
  produce(broker.bootstrap(), {first, second});
  REQUIRE(wait_until([&] { return group_caught_up(broker.bootstrap(), "redis-python", kInboundTopics); }, 60s, 100ms));
  REQUIRE(daemon.stop() == 0);
  auto values = forwarded_values(broker.bootstrap());
  CHECK(values.count(seen) == 0);  // a duplicate for sluice too
  CHECK(values.count(fresh) == 1);
  CHECK(final_counter(daemon.logs(), "sluice_dedup_lookups_total{backend=\"redis\",result=\"hit\"}") == 1);
  // ...and what sluice confirmed, the python detector sees as a duplicate.
  REQUIRE(run_command({"/usr/bin/python3", dir.file("detector.py"), std::to_string(redis.port())}, &output, 30s, fresh) ==
          0);
  CHECK(output == "True\n");
}

// While Redis is down only records waiting to ask it again can find out that it is back. A
// rebalance gives those records up (their partitions are revoked), and the partitions the
// instance gets back start paused: without records left to ask, it must resume and ask anew.
TEST_CASE("redis dedup: a rebalance while Redis is down does not leave consumption paused for good",
          "[integration][redis]") {
  DevBroker broker(kTopics);
  RedisServer redis;
  TempDir dir;
  TestConfig config = redis_config(broker, redis, "redis-rebalance");
  SluiceDaemon first(config, dir, "first");
  first.start();
  REQUIRE(wait_until([&] { return has_partitions(first); }, 60s, 100ms));

  redis.stop();
  produce(broker.bootstrap(), twice_each(20, "down"));
  bool paused = wait_until([&] { return first.logs().find("dedup store unavailable; pausing") != std::string::npos; },
                           30s, 100ms);
  INFO(first.logs());
  REQUIRE(paused);

  // A second member joins: the first one's partitions are revoked, its waiting records given up.
  SluiceDaemon second(config, dir, "second");
  second.start();
  bool rebalanced = wait_until([&] { return has_partitions(second); }, 60s, 100ms);
  INFO(second.logs());
  REQUIRE(rebalanced);
  redis.start();

  bool caught_up = wait_until([&] { return group_caught_up(broker.bootstrap(), config.group_id, kInboundTopics); }, 90s, 200ms);
  REQUIRE(caught_up);
  REQUIRE(first.stop() == 0);
  REQUIRE(second.stop() == 0);
  check_forwarded_once_each(broker.bootstrap(), 20);
}
