// retry.ordering: key's bookkeeping on its own: a key is parked from its first record sent to a
// tier until its last member finishes; a later record goes on only behind members waiting in
// its own gate; the bound on keys; dead-lettered heads with each setting; forgetting a partition.

#include <catch2/catch.hpp>

#include "engine/in_flight_record.h"
#include "engine/parked_keys.h"

using sluice::engine::ParkedKeys;
using Decision = ParkedKeys::Decision;
using Read = ParkedKeys::Read;

namespace {

int partition_a = 0;
int partition_b = 0;
int tier_partition = 0;
const ParkedKeys::Partition kInput = &partition_a;
const ParkedKeys::Partition kOtherInput = &partition_b;
// The inbound partition's gate at destination 0, and the tier partition's.
const ParkedKeys::Gate kInboundGate{0, &partition_a};
const ParkedKeys::Gate kTierGate{0, &tier_partition};

}  // namespace

TEST_CASE("parked keys: nothing parked lets every record go", "[engine][parked_keys]") {
  ParkedKeys parked(10, false);
  CHECK(parked.before_forward(kInput, "k", 5, kInboundGate) == Decision::Go);
  CHECK(parked.keys() == 0);
  CHECK_FALSE(parked.parked(kInput, "k"));
}

TEST_CASE("parked keys: a key's later records park behind its record in a tier; other keys go", "[engine][parked_keys]") {
  ParkedKeys parked(10, false);
  REQUIRE(parked.to_tier(kInput, "k", 5, 0, 1));
  CHECK(parked.parked(kInput, "k"));
  CHECK(parked.keys() == 1);
  CHECK(parked.records() == 1);
  CHECK(parked.before_forward(kInput, "k", 6, kInboundGate) == Decision::Park);
  CHECK(parked.before_forward(kInput, "other", 7, kInboundGate) == Decision::Go);
  // The same key of another input partition is another key.
  CHECK(parked.before_forward(kOtherInput, "k", 8, kInboundGate) == Decision::Go);

  REQUIRE(parked.to_tier(kInput, "k", 6, parked.tier_of(kInput, "k"), 1));
  CHECK(parked.records() == 2);
  // The head comes back from the tier: nothing before it, it goes (into the tier's gate).
  REQUIRE(parked.read_from_tier(kInput, "k", 5, 0, 1) == Read::Joined);
  CHECK(parked.before_forward(kInput, "k", 5, kTierGate) == Decision::Go);
  // Its follower, read right behind it, waits behind it in the same gate.
  REQUIRE(parked.read_from_tier(kInput, "k", 6, 0, 1) == Read::Joined);
  CHECK(parked.before_forward(kInput, "k", 6, kTierGate) == Decision::Go);
  // A new inbound record is in another gate: parked.
  CHECK(parked.before_forward(kInput, "k", 9, kInboundGate) == Decision::Park);

  parked.finished(kInput, "k", 5, false);
  CHECK(parked.parked(kInput, "k"));
  parked.finished(kInput, "k", 6, false);
  CHECK_FALSE(parked.parked(kInput, "k"));
  CHECK(parked.keys() == 0);
  CHECK(parked.records() == 0);
  CHECK(parked.before_forward(kInput, "k", 10, kInboundGate) == Decision::Go);
}

TEST_CASE("parked keys: a follower read before its head came back parks again", "[engine][parked_keys]") {
  ParkedKeys parked(10, false);
  REQUIRE(parked.to_tier(kInput, "k", 5, 0, 1));
  REQUIRE(parked.to_tier(kInput, "k", 6, 0, 1));
  // The head went on to tier 1; the follower is read from tier 0 first.
  REQUIRE(parked.to_tier(kInput, "k", 5, 1, 1));
  REQUIRE(parked.read_from_tier(kInput, "k", 6, 0, 1) == Read::Joined);
  CHECK(parked.before_forward(kInput, "k", 6, kTierGate) == Decision::Park);
  // ... into the tier its head is in.
  CHECK(parked.tier_of(kInput, "k") == 1);
}

TEST_CASE("parked keys: a member that failed leaves its gate", "[engine][parked_keys]") {
  ParkedKeys parked(10, false);
  REQUIRE(parked.read_from_tier(kInput, "k", 5, 0, 1) == Read::Joined);
  CHECK(parked.before_forward(kInput, "k", 5, kTierGate) == Decision::Go);
  // It fails again and goes to tier 1: a later record in the tier gate must not follow a
  // record that is not there any more.
  REQUIRE(parked.to_tier(kInput, "k", 5, 1, 1));
  CHECK(parked.before_forward(kInput, "k", 6, kTierGate) == Decision::Park);
}

TEST_CASE("parked keys: past max_keys a new key is not parked; parked keys still take followers", "[engine][parked_keys]") {
  ParkedKeys parked(2, false);
  REQUIRE(parked.to_tier(kInput, "a", 1, 0, 1));
  REQUIRE(parked.to_tier(kInput, "b", 2, 0, 1));
  CHECK_FALSE(parked.to_tier(kInput, "c", 3, 0, 1));
  CHECK(parked.read_from_tier(kOtherInput, "d", 3, 0, 1) == Read::Refused);
  CHECK(parked.keys() == 2);
  CHECK(parked.before_forward(kInput, "c", 4, kInboundGate) == Decision::Go);
  CHECK(parked.to_tier(kInput, "a", 5, 0, 1));
  CHECK(parked.records() == 3);
  // A key released makes room.
  parked.finished(kInput, "b", 2, false);
  CHECK(parked.to_tier(kInput, "c", 6, 0, 1));
}

TEST_CASE("parked keys: a head dead-lettered releases its followers by default", "[engine][parked_keys]") {
  ParkedKeys parked(10, false);
  REQUIRE(parked.to_tier(kInput, "k", 5, 0, 1));
  REQUIRE(parked.to_tier(kInput, "k", 6, 0, 1));
  parked.finished(kInput, "k", 5, true);
  REQUIRE(parked.read_from_tier(kInput, "k", 6, 0, 1) == Read::Joined);
  CHECK(parked.before_forward(kInput, "k", 6, kTierGate) == Decision::Go);
}

TEST_CASE("parked keys: with dead_letter the members parked at the time are dead-lettered, later ones not",
          "[engine][parked_keys]") {
  ParkedKeys parked(10, true);
  REQUIRE(parked.to_tier(kInput, "k", 5, 0, 1));
  REQUIRE(parked.to_tier(kInput, "k", 6, 0, 1));
  REQUIRE(parked.to_tier(kInput, "k", 7, 0, 1));
  parked.finished(kInput, "k", 5, true);
  // Parked after the head's dead-lettering: behind the doomed ones, but not doomed.
  REQUIRE(parked.to_tier(kInput, "k", 9, 0, 1));
  CHECK(parked.before_forward(kInput, "k", 6, kTierGate) == Decision::DeadLetter);
  parked.finished(kInput, "k", 6, false);
  CHECK(parked.before_forward(kInput, "k", 7, kTierGate) == Decision::DeadLetter);
  parked.finished(kInput, "k", 7, false);
  CHECK(parked.before_forward(kInput, "k", 9, kTierGate) == Decision::Go);
  parked.finished(kInput, "k", 9, false);
  CHECK(parked.keys() == 0);
}

TEST_CASE("parked keys: forgetting a revoked partition drops its keys and counts", "[engine][parked_keys]") {
  ParkedKeys parked(10, false);
  REQUIRE(parked.to_tier(kInput, "a", 1, 0, 1));
  REQUIRE(parked.to_tier(kInput, "a", 2, 0, 1));
  REQUIRE(parked.to_tier(kOtherInput, "b", 1, 0, 1));
  parked.forget(kInput);
  CHECK(parked.keys() == 1);
  CHECK(parked.records() == 1);
  CHECK_FALSE(parked.parked(kInput, "a"));
  CHECK(parked.parked(kOtherInput, "b"));
  // A record finishing afterwards changes nothing.
  parked.finished(kInput, "a", 1, false);
  CHECK(parked.keys() == 1);
}

TEST_CASE("parked keys: an older copy of a record than one known is a spare", "[engine][parked_keys]") {
  ParkedKeys parked(10, false);
  REQUIRE(parked.to_tier(kInput, "k", 5, 0, 1));
  REQUIRE(parked.read_from_tier(kInput, "k", 5, 0, 1) == Read::Joined);
  // Parked again: its second tier record is on its way, and may be read before the first
  // copy's write is acknowledged; it is the record's copy now.
  REQUIRE(parked.to_tier(kInput, "k", 5, 0, 2));
  CHECK(parked.read_from_tier(kInput, "k", 5, 0, 2) == Read::Joined);
  // The first copy, read again after a rebalance kept it from being committed: a spare.
  CHECK(parked.read_from_tier(kInput, "k", 5, 0, 1) == Read::SpareCopy);
  // The scan that rebuilds the keys knows the latest write it saw.
  ParkedKeys rebuilt(10, false);
  REQUIRE(rebuilt.scanned(kInput, "k", 5, 0, 1));
  REQUIRE(rebuilt.scanned(kInput, "k", 5, 0, 2));
  CHECK(rebuilt.read_from_tier(kInput, "k", 5, 0, 1) == Read::SpareCopy);
  CHECK(rebuilt.read_from_tier(kInput, "k", 5, 0, 2) == Read::Joined);
  CHECK(rebuilt.records() == 1);
}

TEST_CASE("parked keys: may_be_parked answers from the key's hash, as the stage thread computes it",
          "[engine][parked_keys]") {
  ParkedKeys parked(10, false);
  const uint64_t k = sluice::engine::InFlightRecord::hash_key("k");
  CHECK_FALSE(parked.may_be_parked(k));
  REQUIRE(parked.to_tier(kInput, "k", 5, 0, 1));
  REQUIRE(parked.wait_at_dedup(kOtherInput, "k", 9));
  CHECK(parked.may_be_parked(k));
  CHECK_FALSE(parked.may_be_parked(sluice::engine::InFlightRecord::hash_key("other")));
  // Parked in two partitions: it stays until neither has it.
  parked.finished(kInput, "k", 5, false);
  CHECK(parked.may_be_parked(k));
  parked.forget(kOtherInput);
  CHECK_FALSE(parked.may_be_parked(k));
  CHECK(parked.keys() == 0);
}
