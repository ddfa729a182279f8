// SIGTERM always ends the process within shutdown.drain_timeout plus a small margin, whatever
// is still unfinished at the drain deadline: HTTP requests nobody answers, DLQ records the
// broker refuses or cannot take, an exactly-once round waiting for outputs that are never
// acknowledged. A fenced exactly-once producer ends the process by itself within the same
// bound. A supervisor kills a daemon that does not exit (systemd after TimeoutStopSec,
// Kubernetes after terminationGracePeriodSeconds, with the pod Terminating until then), while
// exiting costs nothing: unfinished records are not committed and are delivered again after
// the restart.
//
// Every case runs with drain_timeout 3s and allows 10 s more for flushing, committing and
// closing the clients.

#include <catch2/catch.hpp>

#include <signal.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <sstream>

#include "devtools/kafka_tools.h"
#include "devtools/message_mix.h"
#include "support/dev_broker.h"
#include "support/http_test_server.h"
#include "support/sluice_daemon.h"
#include "support/wait.h"

using namespace sluice::test;
using namespace sluice::devtools;
using namespace std::chrono_literals;

namespace {

// Every topic of the tests below, one partition each.
const std::vector<TopicSpec> kTopics = {{"inbound.email", 1}, {"inbound.whatsapp", 1}, {"clean.email", 1},
                                        {"clean.whatsapp", 1}, {"dlq", 1},            {"retry.1s", 1}};

const std::string kDrainTimeout = "3s";
// drain_timeout + 10 s.
constexpr std::chrono::milliseconds kExitBound = 13s;

struct Exit {
  bool exited = false;
  std::chrono::milliseconds took{0};
  int status = -1;
};

// Waits, at most `bound` from `since`, for the daemon to exit on its own. A daemon still
// running then is killed (so the test can go on and clean up) and reported as not exited.
Exit await_exit(SluiceDaemon& daemon, std::chrono::steady_clock::time_point since,
                std::chrono::milliseconds bound = kExitBound) {
  Exit result;
  auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(since + bound - std::chrono::steady_clock::now());
  result.exited = wait_until([&] { return !daemon.running(); }, std::max(remaining, 0ms), 20ms);
  result.took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - since);
  if (result.exited) {
    result.status = daemon.stop();  // already gone: only collects the status
  } else {
    daemon.kill9();
  }
  return result;
}

// SIGTERM, then await_exit from the moment it was sent.
Exit terminate(SluiceDaemon& daemon) {
  auto sent = std::chrono::steady_clock::now();
  REQUIRE(::kill(daemon.pid(), SIGTERM) == 0);
  return await_exit(daemon, sent);
}

std::string describe(const Exit& exit) {
  std::ostringstream text;
  if (exit.exited) {
    text << "exited with status " << exit.status << " after " << exit.took.count() << " ms";
  } else {
    text << "still running " << exit.took.count() << " ms later; killed";
  }
  return text.str();
}

// The daemon's log from its last "draining" line on (or its last 40 lines): what it did on
// the way out.
std::string shutdown_log(const SluiceDaemon& daemon) {
  const std::string logs = daemon.logs();
  size_t from = logs.rfind("\"msg\":\"draining\"");
  if (from == std::string::npos) {
    from = logs.size();
    for (int lines = 0; lines < 40 && from > 0; ++lines) {
      size_t newline = logs.rfind('\n', from - 1);
      from = newline == std::string::npos ? 0 : newline;
    }
  }
  size_t line_start = from == 0 ? std::string::npos : logs.rfind('\n', from - 1);
  return logs.substr(line_start == std::string::npos ? 0 : line_start + 1);
}

bool logged(const SluiceDaemon& daemon, const std::string& msg) {
  return daemon.logs().find("\"msg\":\"" + msg + "\"") != std::string::npos;
}

void produce(const std::string& bootstrap, const std::vector<KafkaRecord>& records) {
  RecordProducer producer(bootstrap);
  for (const KafkaRecord& record : records) producer.produce(record);
  producer.flush();
}

// Valid emails, spread round-robin over `partitions` partitions of inbound.email.
std::vector<KafkaRecord> emails(int count, const std::string& prefix, int partitions = 1) {
  std::vector<KafkaRecord> records;
  for (int i = 0; i < count; ++i) {
    KafkaRecord record;
    record.topic = "inbound.email";
    record.partition = i % partitions;
    record.key = prefix + "-" + std::to_string(i);
    record.value = email_event(prefix + std::to_string(i) + "@example.com", "shutdown " + prefix + " " + std::to_string(i),
                               prefix + "-c-" + std::to_string(i));
    records.push_back(record);
  }
  return records;
}

// Values that are not JSON: each goes to the DLQ (invalid_json) and nowhere else.
std::vector<KafkaRecord> bad_emails(int count, const std::string& prefix) {
  std::vector<KafkaRecord> records;
  for (int i = 0; i < count; ++i) {
    KafkaRecord record;
    record.topic = "inbound.email";
    record.partition = 0;
    record.key = prefix + "-" + std::to_string(i);
    record.value = "this is not json " + prefix + " " + std::to_string(i);
    records.push_back(record);
  }
  return records;
}

// Two brokers: the DLQ on broker 2, everything else (inbound, downstream, tier, the group
// coordinator) on broker 1, so faults on broker 2 hit only DLQ records.
struct DlqOnSecondBroker {
  DevBroker broker;
  std::string group;

  explicit DlqOnSecondBroker(const std::string& group_id)
      : broker(kTopics,
               2),
        group(group_id) {
    for (const std::string topic : {"inbound.email", "inbound.whatsapp", "clean.email", "clean.whatsapp", "retry.1s"}) {
      broker.control("leader " + topic + " 0 1");
    }
    broker.control("leader dlq 0 2");
    broker.control("coord group " + group + " 1");
  }

  TestConfig config() const {
    TestConfig config;
    config.bootstrap = broker.bootstrap();
    config.group_id = group;
    config.drain_timeout = kDrainTimeout;
    config.extra_yaml = "retry:\n  tiers: [1s]\n";
    return config;
  }
};

// Every body answered with 2xx, counted.
struct Delivered {
  std::mutex mutex;
  std::map<std::string, int> count;
  void add(const std::string& body) {
    std::lock_guard<std::mutex> lock(mutex);
    count[body] += 1;
  }
  std::map<std::string, int> snapshot() {
    std::lock_guard<std::mutex> lock(mutex);
    return count;
  }
};

}  // namespace

TEST_CASE("shutdown: SIGTERM with HTTP requests hanging unanswered exits 0 within drain_timeout + 10 s, and a "
          "restart delivers every record",
          "[integration][shutdown][http]") {
  DevBroker broker({{"inbound.email", 3}, {"inbound.whatsapp", 1}, {"clean.whatsapp", 1}, {"dlq", 1}, {"retry.1s", 1}});
  HttpTestServer server;
  // The application accepts the connections and then never answers (until told otherwise).
  std::atomic<bool> hang{true};
  Delivered delivered;
  server.set_handler([&](const ReceivedRequest& request) {
    HttpTestResponse response;
    if (hang.load()) {
      response.delay = 30min;
    } else {
      delivered.add(request.body);
    }
    return response;
  });
  TempDir dir;
  TestConfig config;
  config.bootstrap = broker.bootstrap();
  config.group_id = "shutdown-http";
  config.drain_timeout = kDrainTimeout;
  // The request deadline is far beyond the drain deadline, so each partition's request is
  // still in flight when it passes, with the partition's later records waiting behind it
  // (ordering: partition, the default).
  config.routes_yaml = "  - match: {channel: email}\n    http:\n      url: " + server.url() +
                       "\n      timeout: 120s\n"
                       "  - match: {channel: whatsapp}\n    topic: clean.whatsapp\n";
  config.extra_yaml = "retry:\n  tiers: [1s]\ncircuit_breaker:\n  failure_threshold: 1000\n";
  SluiceDaemon daemon(config, dir);
  const std::vector<KafkaRecord> records = emails(30, "hang", 3);
  produce(broker.bootstrap(), records);
  daemon.start();
  // One request per partition reached the application.
  bool in_flight = wait_until([&] { return server.request_count() >= 3; }, 60s, 20ms);
  {
    INFO(daemon.logs());
    REQUIRE(in_flight);
  }

  Exit exit = terminate(daemon);
  INFO("after SIGTERM: " << describe(exit) << "\n" << shutdown_log(daemon));
  CHECK(exit.exited);
  if (exit.exited) CHECK(exit.status == 0);

  // Nothing was lost: what was unanswered was not committed, and comes again.
  hang.store(false);
  daemon.start();
  bool all = wait_until([&] { return delivered.snapshot().size() == records.size(); }, 60s, 50ms);
  {
    INFO(daemon.logs());
    REQUIRE(all);
  }
  REQUIRE(wait_until([&] { return group_caught_up(broker.bootstrap(), config.group_id, {"inbound.email"}); }, 30s, 100ms));
  REQUIRE(daemon.stop() == 0);
  std::map<std::string, int> bodies = delivered.snapshot();
  for (const KafkaRecord& record : records) CHECK(bodies[*record.value] >= 1);
}

TEST_CASE("shutdown: SIGTERM while the broker refuses every DLQ produce exits 0 within drain_timeout + 10 s",
          "[integration][shutdown][dlq]") {
  DlqOnSecondBroker topology("shutdown-dlq-refused");
  TempDir dir;
  SluiceDaemon daemon(topology.config(), dir);
  // An error librdkafka retries by itself until message.timeout.ms (five minutes): the DLQ
  // produces stay unacknowledged through the drain deadline.
  for (int i = 0; i < 400; ++i) topology.broker.control("berr 2 Produce NOT_ENOUGH_REPLICAS 0");
  const std::vector<KafkaRecord> records = bad_emails(5, "refused");
  produce(topology.broker.bootstrap(), records);
  daemon.start();
  bool dead_lettering = wait_until([&] { return logged(daemon, "record dead-lettered"); }, 60s, 20ms);
  {
    INFO(daemon.logs());
    REQUIRE(dead_lettering);
  }
  REQUIRE(read_topic(topology.broker.bootstrap(), "dlq").empty());  // the refusals are in force

  Exit exit = terminate(daemon);
  INFO("after SIGTERM: " << describe(exit) << "\n" << shutdown_log(daemon));
  REQUIRE(exit.exited);
  CHECK(exit.status == 0);
}

TEST_CASE("shutdown: SIGTERM while the DLQ's broker is unreachable exits 0 within drain_timeout + 10 s",
          "[integration][shutdown][dlq]") {
  DlqOnSecondBroker topology("shutdown-dlq-down");
  TempDir dir;
  SluiceDaemon daemon(topology.config(), dir);
  topology.broker.control("down 2");
  const std::vector<KafkaRecord> records = bad_emails(5, "down");
  produce(topology.broker.bootstrap(), records);
  daemon.start();
  bool dead_lettering = wait_until([&] { return logged(daemon, "record dead-lettered"); }, 60s, 20ms);
  {
    INFO(daemon.logs());
    REQUIRE(dead_lettering);
  }

  Exit exit = terminate(daemon);
  INFO("after SIGTERM: " << describe(exit) << "\n" << shutdown_log(daemon));
  REQUIRE(exit.exited);
  CHECK(exit.status == 0);
}

namespace {

// Exactly-once on three brokers: the downstream topic clean.email on broker 2, the DLQ on
// broker 3, everything else (inbound, tier, the group and transaction coordinators) on broker
// 1, so faults on brokers 2 and 3 hit only sluice's outputs.
struct EosTopology {
  DevBroker broker;
  std::string group;

  explicit EosTopology(const std::string& group_id)
      : broker(kTopics,
               3),
        group(group_id) {
    for (const std::string topic : {"inbound.email", "inbound.whatsapp", "clean.whatsapp", "retry.1s"}) {
      broker.control("leader " + topic + " 0 1");
    }
    broker.control("leader clean.email 0 2");
    broker.control("leader dlq 0 3");
    broker.control("coord group " + group + " 1");
    broker.control("coord transaction sluice-" + group + " 1");
  }

  TestConfig config() const {
    TestConfig config;
    config.bootstrap = broker.bootstrap();
    config.group_id = group;
    config.delivery = "exactly_once";
    config.transactional_id = "sluice-" + group;
    config.drain_timeout = kDrainTimeout;
    config.log_level = "debug";
    config.extra_yaml = "retry:\n  tiers: [1s]\n";
    return config;
  }
};

// Starts the daemon and waits until a record went through a committed transaction to each
// output, so the producer has its id and epoch, every client is connected and every leader
// known before the faults begin.
void start_and_commit_once(SluiceDaemon& daemon, const EosTopology& topology) {
  daemon.start();
  // A bad record too, so the producer knows the DLQ's leader before the faults: asking a
  // broker made slow for metadata would hold the DLQ record back for as long.
  std::vector<KafkaRecord> warmup = emails(1, "warmup");
  warmup.push_back(bad_emails(1, "warmup-bad")[0]);
  produce(topology.broker.bootstrap(), warmup);
  bool committed = wait_until([&] {
    return !read_topic(topology.broker.bootstrap(), "clean.email").empty() &&
           !read_topic(topology.broker.bootstrap(), "dlq").empty() &&
           daemon.logs().find("\"call\":\"commit_transaction\"") != std::string::npos;
  }, 60s, 50ms);
  {
    INFO(daemon.logs());
    REQUIRE(committed);
  }
}

bool fenced_logged(const SluiceDaemon& daemon) {
  const std::string logs = daemon.logs();
  return logs.find("\"msg\":\"fatal kafka client error; stopping\"") != std::string::npos ||
         logs.find("\"msg\":\"transaction cannot be committed; stopping\"") != std::string::npos;
}

}  // namespace

TEST_CASE("shutdown: an exactly-once producer fenced while outputs are unacknowledged exits 1 by itself within "
          "drain_timeout + 10 s",
          "[integration][shutdown][eos]") {
  EosTopology topology("shutdown-eos-fenced");
  TempDir dir;
  SluiceDaemon daemon(topology.config(), dir);
  start_and_commit_once(daemon, topology);
  // Forwarded records wait for broker 2's acknowledgement for ten minutes; the DLQ record
  // produced meanwhile on broker 3 is answered with the fencing error a newer instance with
  // the same transactional.id causes.
  topology.broker.control("rtt 2 600000");
  topology.broker.control("berr 3 Produce INVALID_PRODUCER_EPOCH 0");
  // The bad record first: its DLQ record is what meets the fencing, and it must not wait
  // behind a transaction round that waits for the forwards (which would only end, aborted,
  // after the round's 30 s).
  std::vector<KafkaRecord> records = bad_emails(1, "fenced-bad");
  for (KafkaRecord& record : emails(5, "fenced")) records.push_back(std::move(record));
  produce(topology.broker.bootstrap(), records);
  bool fenced = wait_until([&] { return fenced_logged(daemon) || !daemon.running(); }, 60s, 20ms);
  auto fenced_at = std::chrono::steady_clock::now();
  {
    INFO(daemon.logs());
    REQUIRE(fenced);
  }

  Exit exit = await_exit(daemon, fenced_at);
  INFO("after the fencing: " << describe(exit) << "\n" << shutdown_log(daemon));
  REQUIRE(exit.exited);
  CHECK(exit.status == 1);
}

TEST_CASE("shutdown: SIGTERM while an exactly-once round waits for outputs the downstream broker never "
          "acknowledges exits within drain_timeout + 10 s",
          "[integration][shutdown][eos]") {
  EosTopology topology("shutdown-eos-stuck");
  TempDir dir;
  SluiceDaemon daemon(topology.config(), dir);
  start_and_commit_once(daemon, topology);
  // Forwarded records queue for broker 2 and are never acknowledged; the round that must
  // commit them waits for them.
  topology.broker.control("down 2");
  produce(topology.broker.bootstrap(), emails(5, "stuck"));
  // A transaction began after the last commit: the records were consumed and forwarded.
  bool consumed = wait_until([&] {
    const std::string logs = daemon.logs();
    return logs.rfind("\"call\":\"begin_transaction\"") > logs.rfind("\"call\":\"commit_transaction\"");
  }, 60s, 20ms);
  {
    INFO(daemon.logs());
    REQUIRE(consumed);
  }

  Exit exit = terminate(daemon);
  INFO("after SIGTERM: " << describe(exit) << "\n" << shutdown_log(daemon));
  REQUIRE(exit.exited);
  CHECK(exit.status == 0);
}
