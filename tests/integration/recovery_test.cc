// What happens when things go wrong around the daemon: kill -9 mid-stream, forwarding that
// fails, restarts with a persistent dedup store. At-least-once means nothing is ever missing;
// duplicates downstream are allowed only for records in flight at a kill, and are counted.

#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <iostream>
#include <map>
#include <set>

#include "support/dev_broker.h"
#include "devtools/kafka_tools.h"
#include "devtools/message_mix.h"
#include "support/process.h"
#include "support/sluice_daemon.h"
#include "support/wait.h"

using namespace sluice::test;
using namespace sluice::devtools;
using namespace std::chrono_literals;

namespace {

const std::vector<std::string> kInboundTopics = {"inbound.email", "inbound.whatsapp"};

const std::vector<TopicSpec> kTopics = {{"inbound.email", 3}, {"inbound.whatsapp", 2}, {"clean.email", 2},
                                        {"clean.whatsapp", 2}, {"dlq", 1}};

std::multiset<std::string> keys_in(const std::string& bootstrap, const std::vector<std::string>& topics) {
  std::multiset<std::string> keys;
  for (const std::string& topic : topics) {
    for (const KafkaRecord& record : read_topic(bootstrap, topic)) keys.insert(record.key.value_or(""));
  }
  return keys;
}

std::string fingerprint_of(const std::string& value) {
  std::string output;
  REQUIRE(run_command({SLUICE_BIN, "fingerprint"}, &output, 10s, value) == 0);
  return output.substr(0, 64);
}

}  // namespace

TEST_CASE("kill -9 mid-stream and restart: every input record is accounted for", "[integration][recovery]") {
  DevBroker broker(kTopics);
  TempDir dir;
  MixOptions options;
  options.count = 1500;
  options.seed = 42;
  std::vector<MixRecord> mix = make_mix(options);
  TestConfig config;
  config.bootstrap = broker.bootstrap();
  config.group_id = "recovery-kill";
  // A small in-flight window and slow round trips (below) make each part take a while, so
  // the kills land in the middle of it.
  config.batch_size = 20;
  config.max_in_flight_records = 40;
  SluiceDaemon daemon(config, dir);
  // The mix arrives in three parts while the daemon runs; after each of the first two, the
  // daemon is killed as soon as it has visibly started on that part, so records are in
  // flight (consumed, maybe forwarded, not yet committed) at the kill.
  RecordProducer producer(broker.bootstrap());
  // Slow round trips keep produce requests outstanding for a while: the kills land with
  // deliveries in flight.
  broker.control("rtt -1 30");
  std::vector<size_t> outputs_at_kill;
  const size_t part = mix.size() / 3;
  for (int round = 0; round < 3; ++round) {
    size_t before = keys_in(broker.bootstrap(), {"clean.email", "clean.whatsapp", "dlq"}).size();
    daemon.start();
    size_t end = round == 2 ? mix.size() : part * static_cast<size_t>(round + 1);
    for (size_t i = part * static_cast<size_t>(round); i < end; ++i) producer.produce(mix[i].record);
    producer.flush();
    if (round == 2) {
      broker.control("rtt -1 0");
      break;
    }
    REQUIRE(wait_until([&] { return keys_in(broker.bootstrap(), {"clean.email", "clean.whatsapp", "dlq"}).size() > before; },
                       60s, 5ms));
    daemon.kill9();
    outputs_at_kill.push_back(keys_in(broker.bootstrap(), {"clean.email", "clean.whatsapp", "dlq"}).size());
  }
  bool drained = wait_until([&] { return group_caught_up(broker.bootstrap(), config.group_id, kInboundTopics); }, 90s, 250ms);
  INFO(daemon.logs());
  REQUIRE(drained);
  REQUIRE(daemon.stop() == 0);

  std::multiset<std::string> forwarded = keys_in(broker.bootstrap(), {"clean.email", "clean.whatsapp"});
  std::multiset<std::string> dead_lettered = keys_in(broker.bootstrap(), {"dlq"});
  std::map<std::string, int> per_group;
  std::map<std::string, std::string> group_of;
  for (const MixRecord& entry : mix) group_of[*entry.record.key] = entry.content_group;
  for (const std::string& key : forwarded) per_group[group_of.at(key)] += 1;

  size_t missing = 0;
  size_t duplicated = 0;
  for (const MixRecord& entry : mix) {
    const std::string& key = *entry.record.key;
    switch (entry.expected) {
      case Expected::Forwarded:
      case Expected::Duplicate:
        if (per_group[entry.content_group] == 0) ++missing;
        break;
      case Expected::DeadLetter:
        if (dead_lettered.count(key) == 0) ++missing;
        duplicated += dead_lettered.count(key) > 1 ? dead_lettered.count(key) - 1 : 0;
        break;
      case Expected::Filtered:
        CHECK(forwarded.count(key) == 0);
        CHECK(dead_lettered.count(key) == 0);
        break;
    }
  }
  for (const auto& [group, count] : per_group) duplicated += count > 1 ? static_cast<size_t>(count - 1) : 0;
  std::cout << "kill -9 recovery: " << mix.size() << " records in, outputs at the kills: " << outputs_at_kill[0] << ", "
            << outputs_at_kill[1] << "; "
            << missing << " missing, " << duplicated << " redelivered duplicates\n";
  CHECK(missing == 0);
  // Only records in flight at the kill may be duplicated: bounded by the in-flight budget.
  CHECK(duplicated <= 20000);
}

TEST_CASE("a record whose forwarding failed is forwarded when it comes back, not dropped as a duplicate",
          "[integration][recovery][dedup]") {
  DevBroker broker(kTopics);
  TempDir dir;
  {
    RecordProducer producer(broker.bootstrap());
    KafkaRecord record;
    record.topic = "inbound.email";
    record.key = "only";
    record.value = email_event("alice@example.com", "forward me", "c-1");
    producer.produce(record);
    producer.flush();
  }
  // From now on the broker refuses produce requests (the daemon's are the only ones left).
  std::string refuse = "err Produce";
  for (int i = 0; i < 30; ++i) refuse += " TOPIC_AUTHORIZATION_FAILED";
  broker.control(refuse);
  TestConfig config;
  config.bootstrap = broker.bootstrap();
  config.group_id = "recovery-failed-forward";
  SluiceDaemon daemon(config, dir);
  daemon.start();
  REQUIRE(wait_until([&] { return daemon.logs().find("forward failed") != std::string::npos; }, 60s));
  daemon.kill9();
  broker.control("clearerr Produce");
  daemon.start();
  REQUIRE(wait_until([&] { return group_caught_up(broker.bootstrap(), config.group_id, kInboundTopics); }, 60s, 250ms));
  REQUIRE(daemon.stop() == 0);
  CHECK(keys_in(broker.bootstrap(), {"clean.email"}).count("only") == 1);
  CHECK(keys_in(broker.bootstrap(), {"dlq"}).empty());
}

TEST_CASE("the SQLite store catches a duplicate sent after a restart, and an expired fingerprint does not block",
          "[integration][dedup]") {
  DevBroker broker(kTopics);
  TempDir dir;
  TestConfig config;
  config.bootstrap = broker.bootstrap();
  config.group_id = "dedup-restart";
  SluiceDaemon daemon(config, dir);

  auto send = [&](const std::string& key, const std::string& value) {
    RecordProducer producer(broker.bootstrap());
    KafkaRecord record;
    record.topic = "inbound.email";
    record.key = key;
    record.value = value;
    producer.produce(record);
    producer.flush();
  };
  const std::string first = email_event("bob@example.com", "first message", "c-first");
  const std::string first_again = email_event("bob@example.com", "first message", "c-first-again");
  const std::string stale = email_event("carol@example.com", "seen long ago", "c-stale");

  daemon.start();
  send("first", first);
  REQUIRE(wait_until([&] { return keys_in(broker.bootstrap(), {"clean.email"}).count("first") == 1; }, 60s, 100ms));
  REQUIRE(wait_until([&] { return group_caught_up(broker.bootstrap(), config.group_id, kInboundTopics); }, 30s, 100ms));
  REQUIRE(daemon.stop() == 0);

  // While it is down: plant an entry for `stale` that expired an hour ago.
  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(dir.file("dedup.db").c_str(), &db) == SQLITE_OK);
    std::string hex = fingerprint_of(stale);
    std::string sql = "INSERT OR REPLACE INTO sluice_fingerprints (fingerprint, expires_at) VALUES (x'" + hex +
                      "', CAST(strftime('%s','now') AS INTEGER) * 1000 - 3600000)";
    char* error = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
    INFO((error ? error : ""));
    REQUIRE(rc == SQLITE_OK);
    sqlite3_close(db);
  }

  daemon.start();
  send("first-again", first_again);
  send("stale", stale);
  REQUIRE(wait_until([&] { return group_caught_up(broker.bootstrap(), config.group_id, kInboundTopics); }, 60s, 100ms));
  REQUIRE(daemon.stop() == 0);
  auto forwarded = keys_in(broker.bootstrap(), {"clean.email"});
  CHECK(forwarded.count("first") == 1);
  CHECK(forwarded.count("first-again") == 0);  // a duplicate across the restart
  CHECK(forwarded.count("stale") == 1);        // its fingerprint had expired
}
