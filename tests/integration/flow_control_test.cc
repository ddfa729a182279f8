// A route's rate limit against a real HTTP endpoint: a backlog far larger than the bucket is
// delivered at the configured rate, measured by the times the endpoint received the requests,
// and nothing is lost on the way (the partitions feeding the route pause while records wait
// for tokens, and resume).

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>

#include "devtools/kafka_tools.h"
#include "devtools/message_mix.h"
#include "support/dev_broker.h"
#include "support/http_test_server.h"
#include "support/sluice_daemon.h"
#include "support/wait.h"

using namespace sluice::test;
using namespace sluice::devtools;
using namespace std::chrono_literals;

TEST_CASE("rate limit: 200 records a second over a 2400-record backlog, at most 220/s in any 10 s, none lost",
          "[integration][http][rate_limit]") {
  DevBroker broker({{"inbound.email", 1}, {"inbound.whatsapp", 3}, {"clean.email", 1}, {"dlq", 1}, {"retry.1s", 2}});
  HttpTestServer server;
  TempDir dir;
  TestConfig config;
  config.bootstrap = broker.bootstrap();
  config.group_id = "rate-limit";
  config.routes_yaml = "  - match: {channel: email}\n    topic: clean.email\n"
                       "  - match: {channel: whatsapp}\n"
                       "    rate_limit: {records_per_second: 200, burst: 20}\n"
                       "    http:\n      url: " + server.url() + "\n";
  config.extra_yaml = "retry:\n  tiers: [1s]\n";
  SluiceDaemon daemon(config, dir);

  constexpr int kRecords = 2400;
  {
    RecordProducer producer(broker.bootstrap());
    for (int i = 0; i < kRecords; ++i) {
      KafkaRecord record;
      record.topic = "inbound.whatsapp";
      record.partition = i % 3;
      record.key = "rate-key-" + std::to_string(i);
      record.value = whatsapp_event("+1555320" + std::to_string(1000 + i), "rate message " + std::to_string(i),
                                    "rate-c-" + std::to_string(i));
      producer.produce(record);
    }
    producer.flush();
  }
  daemon.start();
  const bool all = wait_until([&] { return server.request_count() >= static_cast<size_t>(kRecords); }, 60s, 100ms);
  INFO(daemon.logs());
  REQUIRE(all);
  REQUIRE(wait_until([&] { return group_caught_up(broker.bootstrap(), "rate-limit", {"inbound.whatsapp"}); }, 30s,
                     100ms));
  REQUIRE(daemon.stop() == 0);

  std::vector<ReceivedRequest> requests = server.requests();
  // Nothing lost, nothing twice.
  std::map<std::string, int> per_body;
  for (const ReceivedRequest& request : requests) per_body[request.body] += 1;
  CHECK(per_body.size() == static_cast<size_t>(kRecords));
  CHECK(std::all_of(per_body.begin(), per_body.end(), [](const auto& entry) { return entry.second == 1; }));

  // In every 10 s window starting at a request: at most 2200 requests (the bucket allows
  // 20 + 2000 at the sending end; the rest is room for jitter on the way).
  std::vector<std::chrono::system_clock::time_point> times;
  for (const ReceivedRequest& request : requests) times.push_back(request.received_at);
  std::sort(times.begin(), times.end());
  size_t most = 0;
  for (size_t first = 0, last = 0; first < times.size(); ++first) {
    while (last < times.size() && times[last] < times[first] + 10s) ++last;
    most = std::max(most, last - first);
  }
  const double span = std::chrono::duration<double>(times.back() - times.front()).count();
  INFO("most in 10 s: " << most << ", span " << span << " s");
  CHECK(most <= 2200);
  // The limit is a limit, not a stall: the backlog went at about the rate.
  CHECK(span >= (kRecords - 20 - 1) / 200.0 * 0.95);
  CHECK(span <= kRecords / 200.0 * 2);
  const std::string labels = "{route=\"1\",sink=\"http:" + server.url() + "\"}";
  CHECK(final_counter(daemon.logs(), "sluice_route_rate_limited_waits_total" + labels) > 0);
}
