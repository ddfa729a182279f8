// The /status document: its shape, unknown offsets as null, and `sluice status` reading it back.

#include "admin/status_board.h"

#include <catch2/catch.hpp>
#include <rapidjson/document.h>

using namespace sluice;
using namespace sluice::admin;

namespace {

StatusSnapshot sample() {
  StatusSnapshot snapshot;
  snapshot.taken_at_ms = 1'795'996'800'000;
  snapshot.group_id = "sluice \"main\"";
  snapshot.delivery = "at_least_once";
  snapshot.in_group = true;
  snapshot.brokers_reached = true;
  PartitionStatus known;
  known.topic = "inbound.email";
  known.partition = 0;
  known.committed = 40;
  known.position = 42;
  known.high_watermark = 50;
  known.lag = 10;
  known.in_flight = 2;
  known.paused_for = {"outage"};
  PartitionStatus unknown;
  unknown.topic = "retry.1s";
  unknown.partition = 1;
  unknown.retry_held = 3;
  snapshot.partitions = {known, unknown};
  snapshot.destinations = {{"http:http://127.0.0.1:9/x", "open", 5, 5, 0}, {"topic:clean.email", "closed", 0, 0, 1}};
  snapshot.in_flight_records = 7;
  snapshot.in_flight_bytes = 2048;
  snapshot.retry_held = 3;
  snapshot.dedup_backend = "sqlite";
  return snapshot;
}

}  // namespace

TEST_CASE("status JSON: partitions, destinations, totals and dedup, unknown offsets null", "[admin][status]") {
  std::string json = status_to_json(sample());
  rapidjson::Document document;
  document.Parse(json.c_str());
  REQUIRE_FALSE(document.HasParseError());
  CHECK(std::string(document["taken_at"].GetString()) == "2026-11-30T00:00:00.000Z");
  CHECK(std::string(document["group_id"].GetString()) == "sluice \"main\"");
  CHECK(document["in_group"].GetBool());
  const auto& partitions = document["partitions"];
  REQUIRE(partitions.Size() == 2);
  CHECK(std::string(partitions[0]["topic"].GetString()) == "inbound.email");
  CHECK(partitions[0]["committed"].GetInt64() == 40);
  CHECK(partitions[0]["position"].GetInt64() == 42);
  CHECK(partitions[0]["high_watermark"].GetInt64() == 50);
  CHECK(partitions[0]["lag"].GetInt64() == 10);
  CHECK(std::string(partitions[0]["paused_for"][0].GetString()) == "outage");
  CHECK(partitions[1]["committed"].IsNull());
  CHECK(partitions[1]["lag"].IsNull());
  CHECK(partitions[1]["paused_for"].Size() == 0);
  const auto& destinations = document["destinations"];
  REQUIRE(destinations.Size() == 2);
  CHECK(std::string(destinations[0]["breaker"].GetString()) == "open");
  CHECK(destinations[0]["waiting"].GetInt64() == 5);
  CHECK(document["totals"]["assigned_partitions"].GetInt64() == 2);
  CHECK(document["totals"]["in_flight_records"].GetInt64() == 7);
  CHECK(document["totals"]["in_flight_bytes"].GetInt64() == 2048);
  CHECK(document["totals"]["retry_held"].GetInt64() == 3);
  CHECK(std::string(document["dedup"]["backend"].GetString()) == "sqlite");
}

TEST_CASE("status JSON: read back as written", "[admin][status]") {
  std::string error;
  std::optional<StatusSnapshot> read = status_from_json(status_to_json(sample()), error);
  REQUIRE(read);
  StatusSnapshot expected = sample();
  CHECK(read->group_id == expected.group_id);
  REQUIRE(read->partitions.size() == 2);
  CHECK(read->partitions[0].lag == 10);
  CHECK(read->partitions[1].committed == -1);
  CHECK(read->partitions[1].retry_held == 3);
  CHECK(read->partitions[0].paused_for == std::vector<std::string>{"outage"});
  REQUIRE(read->destinations.size() == 2);
  CHECK(read->destinations[0].name == "http:http://127.0.0.1:9/x");
  CHECK(read->destinations[0].breaker == "open");
  CHECK(read->in_flight_bytes == 2048);
  CHECK(read->dedup_backend == "sqlite");
  CHECK_FALSE(status_from_json("{\"error\":\"no snapshot yet\"}", error));
  CHECK_FALSE(status_from_json("not json", error));
}
