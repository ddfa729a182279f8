// An HTTP endpoint that goes down while a backlog waits: what the outage costs. The circuit
// breaker must be asked for a permit when a request actually leaves for the endpoint, not
// when a record is handed to the route (where the ordering gate or the client's queue may
// hold it for a long time): once it opens, queued records wait with their partitions paused
// and only probes go out, a probe that times out is a failed probe, and a failed probe keeps
// its place at the head of its partition.
//
// Each test counts what the outage did (requests the endpoint saw, records written to the
// retry tier, breaker transitions, connections opened), not only that everything arrives in
// the end.

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <optional>

#include "devtools/kafka_tools.h"
#include "devtools/message_mix.h"
#include "support/dev_broker.h"
#include "support/http_get.h"
#include "support/http_test_server.h"
#include "support/prometheus_text.h"
#include "support/sluice_daemon.h"
#include "support/wait.h"

using namespace sluice::test;
using namespace sluice::devtools;
using namespace std::chrono_literals;

namespace {

std::vector<TopicSpec> topics(int inbound_partitions) {
  return {{"inbound.email", 1}, {"inbound.whatsapp", inbound_partitions}, {"clean.email", 1}, {"dlq", 1},
          {"retry.1s", 2}};
}

// WhatsApp records spread evenly over `partitions` input partitions, each body distinct (and
// so each fingerprint).
std::vector<KafkaRecord> backlog(int count, int partitions, const std::string& prefix) {
  std::vector<KafkaRecord> records;
  for (int i = 0; i < count; ++i) {
    KafkaRecord record;
    record.topic = "inbound.whatsapp";
    record.partition = i % partitions;
    record.key = prefix + "-key-" + std::to_string(i);
    record.value = whatsapp_event("+1555310" + std::to_string(1000 + i),
                                  prefix + " outage message " + std::to_string(i), prefix + "-c-" + std::to_string(i));
    records.push_back(record);
  }
  return records;
}

void produce(const std::string& bootstrap, const std::vector<KafkaRecord>& records) {
  RecordProducer producer(bootstrap);
  for (const KafkaRecord& record : records) producer.produce(record);
  producer.flush();
}

// WhatsApp goes to the HTTP endpoint at `url`; `route_extra` adds route keys (4 spaces),
// `http_extra` keys of its http section (6 spaces).
TestConfig outage_config(const DevBroker& broker, const std::string& group, const std::string& url,
                         const std::string& route_extra, const std::string& http_extra, const std::string& breaker) {
  TestConfig config;
  config.bootstrap = broker.bootstrap();
  config.group_id = group;
  config.routes_yaml = "  - match: {channel: email}\n    topic: clean.email\n"
                       "  - match: {channel: whatsapp}\n" +
                       route_extra + "    http:\n      url: " + url + "\n" + http_extra;
  config.extra_yaml = "retry:\n  tiers: [1s]\ncircuit_breaker:\n" + breaker;
  return config;
}

// The circuit_breaker section: open after `failures`, half-open after `open`, closed by one
// successful probe.
std::string breaker_settings(int failures, std::chrono::seconds open) {
  return "  failure_threshold: " + std::to_string(failures) + "\n  open_timeout: " + std::to_string(open.count()) +
         "s\n  success_threshold: 1\n";
}

// Produces the backlog before the daemon starts (so all of it is taken in while the endpoint
// is down), waits until every record was answered 2xx and the group committed everything,
// and stops the daemon cleanly.
template <typename Endpoint>
void deliver_through_outage(SluiceDaemon& daemon, const DevBroker& broker, const std::string& group,
                            const Endpoint& endpoint, const std::vector<KafkaRecord>& records,
                            std::chrono::milliseconds outage) {
  produce(broker.bootstrap(), records);
  daemon.start();
  bool all = wait_until([&] { return endpoint.delivered().size() == records.size(); }, outage + 60s, 100ms);
  INFO(daemon.logs());
  REQUIRE(all);
  REQUIRE(wait_until([&] { return group_caught_up(broker.bootstrap(), group, {"inbound.whatsapp", "retry.1s"}); }, 30s,
                     100ms));
  REQUIRE(daemon.stop() == 0);
}

std::string sink_label(const HttpTestServer& server) { return "http:" + server.url(); }

// A metric's current value from the daemon's /metrics; -1 when it is not there (yet).
double scrape(uint16_t admin_port, const std::string& name, const std::map<std::string, std::string>& labels) {
  HttpGetResult result = http_get("127.0.0.1", admin_port, "/metrics");
  if (result.status != 200) return -1;
  return metric_value(result.body, name, labels).value_or(-1);
}

int64_t source_offset(const std::string& source) { return std::stoll(source.substr(source.rfind('/') + 1)); }

// An endpoint that is down for `outage` from the first request it receives: it answers 503
// until then and 200 afterwards, each 200 after `delay`. Every answer is recorded in the order
// given.
class ScriptedOutage {
 public:
  struct Answer {
    std::string source;  // X-Sluice-Source: topic/partition/offset
    std::string body;
    int status;
    std::chrono::steady_clock::time_point at;  // when the request came
  };

  ScriptedOutage(HttpTestServer& server, std::chrono::milliseconds outage,
                 std::chrono::milliseconds delay = std::chrono::milliseconds(0))
      : outage_(outage) {
    server.set_handler([this, delay](const ReceivedRequest& request) {
      std::lock_guard<std::mutex> lock(mutex_);
      const auto now = std::chrono::steady_clock::now();
      if (!first_) first_ = now;
      HttpTestResponse response;
      if (now - *first_ < outage_) {
        response.status = 503;
        response.body = "unavailable";
      } else {
        response.delay = delay;
      }
      auto source = request.headers.find("x-sluice-source");
      answers_.push_back({source == request.headers.end() ? std::string() : source->second, request.body,
                          response.status, now});
      return response;
    });
  }

  std::vector<Answer> answers() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return answers_;
  }
  // Requests answered 503, i.e. received while the endpoint was down.
  size_t failed() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return static_cast<size_t>(
        std::count_if(answers_.begin(), answers_.end(), [](const Answer& answer) { return answer.status == 503; }));
  }
  // 2xx answers per body.
  std::map<std::string, int> delivered() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::map<std::string, int> count;
    for (const Answer& answer : answers_) {
      if (answer.status == 200) count[answer.body] += 1;
    }
    return count;
  }

 private:
  const std::chrono::milliseconds outage_;
  mutable std::mutex mutex_;
  std::optional<std::chrono::steady_clock::time_point> first_;
  std::vector<Answer> answers_;
};

// Every record was answered 2xx exactly once.
void check_each_delivered_once(const std::map<std::string, int>& delivered, const std::vector<KafkaRecord>& records) {
  CHECK(delivered.size() == records.size());
  size_t not_once = 0;
  for (const KafkaRecord& record : records) {
    auto it = delivered.find(*record.value);
    if (it == delivered.end() || it->second != 1) ++not_once;
  }
  CHECK(not_once == 0);
}

}  // namespace

TEST_CASE("outage with ordering: partition: once the breaker opens, queued records wait and only probes reach the "
          "endpoint",
          "[integration][outage][breaker]") {
  constexpr int kPartitions = 3;
  constexpr int kRecords = 40;
  constexpr int kFailureThreshold = 5;
  constexpr auto kOutage = 15s;
  constexpr auto kOpenTimeout = 3s;
  DevBroker broker(topics(kPartitions));
  HttpTestServer server;
  ScriptedOutage endpoint(server, kOutage);
  TempDir dir;
  const std::string group = "outage-partition";
  SluiceDaemon daemon(outage_config(broker, group, server.url(), "    ordering: partition\n", "      timeout: 2s\n",
                                    breaker_settings(kFailureThreshold, kOpenTimeout)),
                      dir);
  // All of the backlog is taken in while the endpoint is down: one request per partition is
  // under way, the rest queue behind it.
  auto records = backlog(kRecords, kPartitions, "ordered");
  deliver_through_outage(daemon, broker, group, endpoint, records, kOutage);

  // What the outage may cost: the failures that open the breaker, the requests already on
  // their way then (one per partition), and one probe per open period.
  const size_t probes = static_cast<size_t>(kOutage / kOpenTimeout) + 1;
  const size_t bound = kFailureThreshold + kPartitions + probes;
  const size_t during_outage = endpoint.failed();
  const size_t tier_records = read_topic(broker.bootstrap(), "retry.1s").size();
  INFO("requests during the outage: " << during_outage << " (bound " << bound << "); retry tier records: "
                                      << tier_records << " (bound " << kFailureThreshold + kPartitions << ")");
  CHECK(during_outage <= bound);
  // Only failures seen while the breaker was still closed go to a tier.
  CHECK(tier_records <= static_cast<size_t>(kFailureThreshold + kPartitions));
  CHECK(read_topic(broker.bootstrap(), "dlq").empty());
  check_each_delivered_once(endpoint.delivered(), records);
}

TEST_CASE("outage with ordering: none: a backlog does not fill the retry tier, and the requests in flight are "
          "bounded by max_connections",
          "[integration][outage][breaker]") {
  constexpr int kPartitions = 3;
  constexpr int kRecords = 400;
  constexpr int kMaxConnections = 16;
  constexpr int kFailureThreshold = 5;
  constexpr auto kOutage = 10s;
  constexpr auto kOpenTimeout = 2s;
  DevBroker broker(topics(kPartitions));
  HttpTestServer server;
  ScriptedOutage endpoint(server, kOutage);
  TempDir dir;
  const std::string group = "outage-unordered";
  SluiceDaemon daemon(outage_config(broker, group, server.url(), "    ordering: none\n",
                                    "      timeout: 2s\n      max_connections: " + std::to_string(kMaxConnections) +
                                        "\n",
                                    breaker_settings(kFailureThreshold, kOpenTimeout)),
                      dir);
  auto records = backlog(kRecords, kPartitions, "unordered");
  deliver_through_outage(daemon, broker, group, endpoint, records, kOutage);

  // At most max_connections requests are under way at any time (pipeline_depth 1): besides
  // the failures that open the breaker, at most that many were on their way when it opened;
  // after that, one probe per open period. Only failures seen while the breaker was still
  // closed go to the tier, not the whole backlog.
  const size_t probes = static_cast<size_t>(kOutage / kOpenTimeout) + 1;
  const size_t request_bound = kMaxConnections + kFailureThreshold + probes;
  const size_t tier_bound = kMaxConnections + kFailureThreshold;
  const size_t during_outage = endpoint.failed();
  const size_t tier_records = read_topic(broker.bootstrap(), "retry.1s").size();
  INFO("requests during the outage: " << during_outage << " (bound " << request_bound
                                      << "); retry tier records: " << tier_records << " (bound " << tier_bound << ")");
  CHECK(during_outage <= request_bound);
  CHECK(tier_records <= tier_bound);
  CHECK(read_topic(broker.bootstrap(), "dlq").empty());
  check_each_delivered_once(endpoint.delivered(), records);
}

TEST_CASE("outage of an endpoint that accepts connections and never answers: timed-out probes reopen the breaker, "
          "and connections stay bounded",
          "[integration][outage][breaker]") {
  constexpr int kPartitions = 3;
  constexpr int kRecords = 120;
  constexpr int kMaxConnections = 4;
  DevBroker broker(topics(kPartitions));
  HttpTestServer server;
  std::atomic<bool> hanging{true};
  std::mutex mutex;
  std::map<std::string, int> delivered;
  server.set_handler([&](const ReceivedRequest& request) {
    HttpTestResponse response;
    if (hanging.load()) {
      response.delay = 10min;  // the application keeps the connection and never answers
    } else {
      std::lock_guard<std::mutex> lock(mutex);
      delivered[request.body] += 1;
    }
    return response;
  });
  auto delivered_count = [&] {
    std::lock_guard<std::mutex> lock(mutex);
    return delivered.size();
  };
  TempDir dir;
  const std::string group = "outage-hanging";
  SluiceDaemon daemon(outage_config(broker, group, server.url(), "    ordering: none\n",
                                    "      timeout: 1s\n      max_connections: " + std::to_string(kMaxConnections) +
                                        "\n",
                                    breaker_settings(2, 2s)),
                      dir);
  // A backlog far larger than the pool: 30 rounds of 4 requests timing out one second each.
  auto records = backlog(kRecords, kPartitions, "hanging");
  produce(broker.bootstrap(), records);
  daemon.start();
  const uint16_t admin = daemon.admin_port();
  REQUIRE(wait_until([&] { return server.request_count() > 0; }, 30s, 50ms));

  // Requests time out after 1 s: two failures open the breaker; after 2 s a probe goes out
  // and times out after 1 s, which must open it again; and again. Three opens and two
  // half-opens take about 7 s from the first request.
  const std::string sink = sink_label(server);
  const std::string transitions = "sluice_breaker_transitions_total";
  double opened = 0, half_opened = 0;
  bool reopened_twice = wait_until(
      [&] {
        opened = scrape(admin, transitions, {{"sink", sink}, {"to", "open"}});
        half_opened = scrape(admin, transitions, {{"sink", sink}, {"to", "half_open"}});
        return opened >= 3 && half_opened >= 2;
      },
      15s, 200ms);
  const double connections = scrape(admin, "sluice_http_connections_opened_total", {{"sink", sink}});
  {
    INFO("within 15 s of the first request: breaker transitions to open " << opened << ", to half_open " << half_opened
                                                                         << "; connections opened " << connections
                                                                         << " (accepted by the server "
                                                                         << server.connections_accepted() << ")");
    CHECK(reopened_twice);
    CHECK(connections > 0);  // the counter is there to be read
    // The pool's connections, which the first timeouts closed, plus one fresh connection per
    // probe (a timeout closes its connection); a few more at most for records started while
    // the breaker was still closed.
    CHECK(connections <= 2 * kMaxConnections + std::max(half_opened, 0.0));
  }

  // The application answers again: the next probe closes the breaker and everything arrives.
  hanging = false;
  bool all = wait_until([&] { return delivered_count() == records.size(); }, 60s, 100ms);
  INFO(daemon.logs());
  REQUIRE(all);
  REQUIRE(wait_until([&] { return group_caught_up(broker.bootstrap(), group, {"inbound.whatsapp", "retry.1s"}); }, 30s,
                     100ms));
  REQUIRE(daemon.stop() == 0);
  CHECK(read_topic(broker.bootstrap(), "dlq").empty());
  std::lock_guard<std::mutex> lock(mutex);
  check_each_delivered_once(delivered, records);
}

TEST_CASE("outage with ordering: partition: a failed probe keeps its place, so the partition's records are delivered "
          "in order",
          "[integration][outage][breaker]") {
  constexpr int kRecords = 30;
  // Down for 3.5 s from the first request. With open_timeout 1 s the probes at about 1, 2
  // and 3 s fail and the one at about 4 s succeeds.
  constexpr auto kOutage = 3500ms;
  DevBroker broker(topics(1));
  HttpTestServer server;
  ScriptedOutage endpoint(server, kOutage);
  TempDir dir;
  const std::string group = "outage-probe-order";
  // failure_threshold 1: the first failure opens the breaker, so no record goes to a tier and
  // every record of the partition must leave in offset order.
  SluiceDaemon daemon(outage_config(broker, group, server.url(), "    ordering: partition\n", "      timeout: 2s\n",
                                    "  failure_threshold: 1\n  open_timeout: 1s\n  success_threshold: 2\n"),
                      dir);
  auto records = backlog(kRecords, 1, "probe");
  produce(broker.bootstrap(), records);
  daemon.start();

  bool all = wait_until([&] { return endpoint.delivered().size() == records.size(); }, 60s, 100ms);
  INFO(daemon.logs());
  REQUIRE(all);
  REQUIRE(wait_until([&] { return group_caught_up(broker.bootstrap(), group, {"inbound.whatsapp", "retry.1s"}); }, 30s,
                     100ms));
  REQUIRE(daemon.stop() == 0);

  // The outage really made probes fail: each failed probe opens the breaker again.
  const std::string logs = daemon.logs();
  const double opens =
      final_counter(logs, "sluice_breaker_transitions_total{sink=\"" + sink_label(server) + "\",to=\"open\"}");
  INFO("breaker opened " << opens << " times");
  CHECK(opens >= 3);  // the first failure and at least two failed probes

  // The 2xx answers, in the order the endpoint gave them, carry increasing offsets.
  std::vector<int64_t> offsets;
  for (const ScriptedOutage::Answer& answer : endpoint.answers()) {
    if (answer.status == 200) offsets.push_back(source_offset(answer.source));
  }
  std::string order;
  for (int64_t offset : offsets) order += std::to_string(offset) + " ";
  INFO("offsets delivered, in order: " << order);
  // Strictly increasing: no offset comes before one delivered earlier.
  CHECK(std::adjacent_find(offsets.begin(), offsets.end(), [](int64_t a, int64_t b) { return a >= b; }) ==
        offsets.end());
  check_each_delivered_once(endpoint.delivered(), records);
  CHECK(read_topic(broker.bootstrap(), "retry.1s").empty());
  CHECK(read_topic(broker.bootstrap(), "dlq").empty());
}

TEST_CASE("outage of 10 s, then up: after the breaker closes requests ramp up from 1 (slow start), not all at once",
          "[integration][outage][breaker][concurrency]") {
  // 64 connections, ordering none and a backlog: without slow start, the first round trip
  // after the breaker closes would carry 64 requests.
  constexpr auto kRoundTrip = 100ms;
  DevBroker broker(topics(4));
  HttpTestServer server;
  ScriptedOutage endpoint(server, 10s, kRoundTrip);
  TempDir dir;
  const std::string group = "outage-slow-start";
  SluiceDaemon daemon(outage_config(broker, group, server.url(), "    ordering: none\n",
                                    "      timeout: 5s\n      max_connections: 64\n", breaker_settings(3, 1s)),
                      dir);
  auto records = backlog(400, 4, "slow-start");
  deliver_through_outage(daemon, broker, group, endpoint, records, 10s);
  check_each_delivered_once(endpoint.delivered(), records);

  // The probe that closed the breaker is the first request answered 200; it is answered one
  // round trip later, and the limit starts again at 1 then. Round trip k after it carries at
  // most 2^k requests, so by the end of round trip k at most 2^(k+1) - 1 have come (each
  // window ends half a round trip before round trip k + 1 can start).
  const std::vector<ScriptedOutage::Answer> answers = endpoint.answers();
  auto probe = std::find_if(answers.begin(), answers.end(), [](const auto& answer) { return answer.status == 200; });
  REQUIRE(probe != answers.end());
  for (int trip = 0; trip < 4; ++trip) {
    const auto end = probe->at + kRoundTrip * (trip + 1) + kRoundTrip / 2;
    const auto came = std::count_if(probe + 1, answers.end(), [&](const auto& answer) { return answer.at < end; });
    INFO("round trip " << trip << ": " << came << " requests after the probe");
    CHECK(came <= (2 << trip) - 1);
  }
  // And within the first second it did ramp up (1 + 2 + 4 + 8 by the fourth round trip).
  const auto first_second = std::count_if(probe + 1, answers.end(),
                                          [&](const auto& answer) { return answer.at < probe->at + 1s; });
  CHECK(first_second >= 15);
}
