#include "dedup/memory_dedup_store.h"

#include <chrono>
#include <vector>

#include <catch2/catch.hpp>

#include "unit/dedup/dedup_test_helpers.h"

namespace sluice::dedup {
namespace {

using namespace std::chrono_literals;
using testing::count_of;
using testing::fingerprint_of;
using testing::fingerprints_from;
using testing::ManualClock;
using testing::reserve;
using Status = ReserveStatus;

constexpr std::chrono::milliseconds kWindow = 1h;

void reserve_and_confirm(MemoryDedupStore& store, const std::vector<Fingerprint>& fingerprints) {
  REQUIRE(count_of(reserve(store, fingerprints), Status::Reserved) == fingerprints.size());
  store.confirm(fingerprints);
}

TEST_CASE("a full memory store evicts the oldest entries first and counts them", "[dedup][memory]") {
  ManualClock clock;
  MemoryDedupStore store(kWindow, 3, clock.fn());
  const std::vector<Fingerprint> five = fingerprints_from(1, 5);
  for (const Fingerprint& fingerprint : five) {
    reserve_and_confirm(store, {fingerprint});
    clock.advance(1s);
  }

  CHECK(store.size() == 3);
  CHECK(store.evictions() == 2);
  CHECK(reserve(store, five) ==
        std::vector{Status::Reserved, Status::Reserved, Status::Duplicate, Status::Duplicate, Status::Duplicate});
}

TEST_CASE("making room by dropping expired entries is not an eviction", "[dedup][memory]") {
  ManualClock clock;
  MemoryDedupStore store(kWindow, 2, clock.fn());
  reserve_and_confirm(store, fingerprints_from(1, 2));
  clock.advance(kWindow);

  reserve_and_confirm(store, {fingerprint_of(3)});

  CHECK(store.size() == 2);
  CHECK(store.evictions() == 0);
}

TEST_CASE("an entry confirmed again is evicted after the entries confirmed before it", "[dedup][memory]") {
  ManualClock clock;
  MemoryDedupStore store(kWindow, 2, clock.fn());
  const Fingerprint a = fingerprint_of(1);
  const Fingerprint b = fingerprint_of(2);
  const Fingerprint c = fingerprint_of(3);
  reserve_and_confirm(store, {a});
  clock.advance(10s);
  reserve_and_confirm(store, {b});
  // a has expired, b has not; a is confirmed again and so becomes the newest entry.
  clock.advance(kWindow - 5s);
  reserve_and_confirm(store, {a});

  reserve_and_confirm(store, {c});

  CHECK(store.evictions() == 1);
  CHECK(reserve(store, std::vector{a, b, c}) == std::vector{Status::Duplicate, Status::Reserved, Status::Duplicate});
}

TEST_CASE("expire() empties the memory store once the window has passed", "[dedup][memory][expire]") {
  ManualClock clock;
  MemoryDedupStore store(kWindow, 100, clock.fn());
  reserve_and_confirm(store, fingerprints_from(1, 10));
  clock.advance(kWindow / 2);
  reserve_and_confirm(store, fingerprints_from(11, 10));

  clock.advance(kWindow / 2 - 1ms);
  store.expire();
  CHECK(store.size() == 20);
  clock.advance(1ms);
  store.expire();
  CHECK(store.size() == 10);
  clock.advance(kWindow);
  store.expire();
  CHECK(store.size() == 0);
  CHECK(store.evictions() == 0);
}

TEST_CASE("reservations are held apart from entries and go with confirm or release", "[dedup][memory]") {
  ManualClock clock;
  MemoryDedupStore store(kWindow, 100, clock.fn());
  const std::vector<Fingerprint> four = fingerprints_from(1, 4);
  reserve(store, four);
  CHECK(store.reservations() == 4);

  store.confirm({four.data(), 2});
  store.release({four.data() + 2, 2});

  CHECK(store.reservations() == 0);
  CHECK(store.size() == 2);
}

}  // namespace
}  // namespace sluice::dedup
