// What /readyz learns from the engine: group membership and broker reachability, from the
// events librdkafka reports (Connectivity on its own with time points the test picks, then
// the engine on fakes telling its lifecycle listener).

#include "engine/connectivity.h"

#include <catch2/catch.hpp>

#include "fakes/engine_harness.h"

using namespace sluice;
using namespace sluice::engine;
using namespace std::chrono_literals;

namespace {

const Connectivity::TimePoint kStart{std::chrono::hours(1000)};
// The harness's config ends with its admin section: this continues it.
const char* const kAdminTimeout = "  ready_broker_timeout: 5s\n";

}  // namespace

TEST_CASE("connectivity: out of the group until the first assignment, and when partitions are lost",
          "[engine][connectivity]") {
  Connectivity connectivity(30s);
  CHECK_FALSE(connectivity.evaluate(kStart).in_group);
  CHECK(connectivity.evaluate(kStart).group_detail == "not joined yet");
  connectivity.on_assigned(kStart);
  CHECK(connectivity.evaluate(kStart).in_group);
  CHECK(connectivity.evaluate(kStart).group_detail.empty());

  connectivity.on_revoked(/*lost=*/true, 0, kStart + 1s);
  Connectivity::Verdict lost = connectivity.evaluate(kStart + 1s);
  CHECK_FALSE(lost.in_group);
  CHECK(lost.group_detail == "out of the group: partitions lost");
  connectivity.on_assigned(kStart + 5s);  // rejoined
  CHECK(connectivity.evaluate(kStart + 5s).in_group);

  connectivity.on_client_error(RD_KAFKA_RESP_ERR__MAX_POLL_EXCEEDED, kStart + 6s);
  CHECK_FALSE(connectivity.evaluate(kStart + 6s).in_group);
  connectivity.on_assigned(kStart + 7s);
  CHECK(connectivity.evaluate(kStart + 7s).in_group);
}

TEST_CASE("connectivity: a rebalance that revokes everything counts only once it outlasts the timeout",
          "[engine][connectivity]") {
  Connectivity connectivity(30s);
  connectivity.on_assigned(kStart);
  connectivity.on_revoked(/*lost=*/false, /*remaining=*/2, kStart);
  CHECK(connectivity.evaluate(kStart + 1h).in_group);  // some partitions stayed
  connectivity.on_revoked(/*lost=*/false, /*remaining=*/0, kStart + 1s);
  CHECK(connectivity.evaluate(kStart + 30s).in_group);
  Connectivity::Verdict long_rebalance = connectivity.evaluate(kStart + 31s);
  CHECK_FALSE(long_rebalance.in_group);
  CHECK(long_rebalance.group_detail == "every partition revoked 30s ago, no assignment since");
  connectivity.on_assigned(kStart + 40s);  // an empty assignment is a membership too
  CHECK(connectivity.evaluate(kStart + 40s).in_group);
}

TEST_CASE("connectivity: brokers count as unreachable once \"all brokers down\" outlasts the timeout without a contact",
          "[engine][connectivity]") {
  Connectivity connectivity(30s);
  connectivity.on_assigned(kStart);
  connectivity.on_client_error(RD_KAFKA_RESP_ERR__TRANSPORT, kStart);  // one connection: not all
  CHECK_FALSE(connectivity.awaiting_contact());
  connectivity.on_client_error(RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, kStart);
  CHECK(connectivity.awaiting_contact());
  CHECK(connectivity.evaluate(kStart + 29s).brokers_reached);
  connectivity.on_client_error(RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, kStart + 20s);  // the first report counts
  Connectivity::Verdict down = connectivity.evaluate(kStart + 30s);
  CHECK_FALSE(down.brokers_reached);
  CHECK(down.in_group);
  CHECK(down.broker_detail == "no broker reached for 30s");
  connectivity.on_broker_contact();
  CHECK(connectivity.evaluate(kStart + 31s).brokers_reached);
  CHECK_FALSE(connectivity.awaiting_contact());
}

namespace {

struct RecordingLifecycle final : LifecycleListener {
  void on_connectivity(bool member, const std::string& group_why, bool reached, const std::string& broker_why) override {
    in_group = member;
    brokers_reached = reached;
    detail = member ? broker_why : group_why;
    reports += 1;
  }
  void on_status(const StatusSnapshot& snapshot) override { last_status = snapshot; }
  bool in_group = false;
  bool brokers_reached = false;
  std::string detail;
  int reports = 0;
  StatusSnapshot last_status;
};

}  // namespace

TEST_CASE("engine on fakes: lost partitions and a long \"all brokers down\" reach the lifecycle listener, an "
          "assignment and a fetched record end them",
          "[engine][connectivity]") {
  fakes::FakeCluster cluster;
  cluster.create_topic("inbound.email", 2);
  cluster.create_topic("clean.email", 1);
  cluster.create_topic("dlq", 1);
  fakes::ManualClock clock;
  RecordingLifecycle lifecycle;
  fakes::EngineHarness::Options options;
  options.lifecycle = &lifecycle;
  fakes::EngineHarness harness(cluster, clock, fakes::load_setup(fakes::harness_yaml("at_least_once", kAdminTimeout)),
                               std::move(options));
  harness.consumer().assign({{"inbound.email", 0}, {"inbound.email", 1}});
  REQUIRE(harness.run_until([&] { return lifecycle.in_group; }));
  CHECK(lifecycle.brokers_reached);
  CHECK(lifecycle.last_status.partitions.size() == 2);  // published on the assignment

  harness.consumer().revoke({{"inbound.email", 0}, {"inbound.email", 1}}, /*lost=*/true);
  REQUIRE(harness.run_until([&] { return !lifecycle.in_group; }));
  CHECK(lifecycle.detail == "out of the group: partitions lost");
  CHECK(lifecycle.last_status.partitions.empty());
  harness.consumer().assign({{"inbound.email", 0}});
  REQUIRE(harness.run_until([&] { return lifecycle.in_group; }));

  harness.consumer().report_error(RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN);
  harness.step();
  CHECK(lifecycle.brokers_reached);  // not yet: the timeout has not passed
  REQUIRE(harness.run_until([&] { return !lifecycle.brokers_reached; }, 10'000, 100ms));
  CHECK(lifecycle.detail.find("no broker reached for") == 0);
  fakes::StoredRecord record;
  record.key = "k";
  record.value = fakes::valid_email("k");
  cluster.append("inbound.email", 0, std::move(record));
  REQUIRE(harness.run_until([&] { return lifecycle.brokers_reached; }, 10'000, 100ms));
  CHECK(harness.stop() == 0);
}

TEST_CASE("engine on fakes: the status snapshot shows each partition's offsets and lag and each destination",
          "[engine][status]") {
  fakes::FakeCluster cluster;
  cluster.create_topic("inbound.email", 1);
  cluster.create_topic("clean.email", 1);
  cluster.create_topic("dlq", 1);
  for (int i = 0; i < 3; ++i) {
    fakes::StoredRecord record;
    record.key = "k" + std::to_string(i);
    record.value = fakes::valid_email("k" + std::to_string(i));
    cluster.append("inbound.email", 0, std::move(record));
  }
  fakes::ManualClock clock;
  RecordingLifecycle lifecycle;
  fakes::EngineHarness::Options options;
  options.lifecycle = &lifecycle;
  fakes::EngineHarness harness(cluster, clock, fakes::load_setup(fakes::harness_yaml("at_least_once")), std::move(options));
  harness.consumer().assign({{"inbound.email", 0}});
  REQUIRE(harness.run_until([&] {
    const auto& partitions = lifecycle.last_status.partitions;
    return partitions.size() == 1 && partitions[0].committed == 3 && partitions[0].lag == 0;
  }, 10'000, 100ms));
  const StatusSnapshot& status = lifecycle.last_status;
  CHECK(status.partitions[0].topic == "inbound.email");
  CHECK(status.partitions[0].high_watermark == 3);
  CHECK(status.partitions[0].position == 3);
  CHECK(status.partitions[0].paused_for.empty());
  CHECK(status.dedup_backend == "memory");
  CHECK(status.delivery == "at_least_once");
  REQUIRE(status.destinations.size() >= 1);
  CHECK(status.destinations[0].breaker == "closed");
  CHECK(status.in_flight_records == 0);
  CHECK(harness.stop() == 0);
}
