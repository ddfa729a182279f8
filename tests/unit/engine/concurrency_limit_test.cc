// The adaptive concurrency limit over sequences of results: slow start from 1, one more a
// round trip from the threshold, halved once per overloaded round trip, never above its
// maximum; and the fixed limit, which no result moves.

#include <catch2/catch.hpp>

#include <chrono>
#include <vector>

#include "engine/concurrency_limit.h"

using sluice::engine::ConcurrencyLimit;
using namespace std::chrono_literals;
using TimePoint = ConcurrencyLimit::TimePoint;

namespace {

// The limit after each of `count` successes.
std::vector<int> limits_after_successes(ConcurrencyLimit& limit, int count) {
  std::vector<int> limits;
  for (int i = 0; i < count; ++i) {
    limit.on_success();
    limits.push_back(limit.limit());
  }
  return limits;
}

}  // namespace

TEST_CASE("concurrency limit: adaptive starts at its maximum; after an outage at 1, doubling every round trip",
          "[engine][concurrency]") {
  ConcurrencyLimit limit = ConcurrencyLimit::adaptive(16);
  CHECK(limit.is_adaptive());
  CHECK(limit.limit() == 16);
  limit.restart();
  CHECK(limit.limit() == 1);
  // A round trip of a limit of n ends with n successes: 1 → 2 → 4 → 8 → 16.
  int round_trips = 0;
  std::vector<int> seen{limit.limit()};
  while (limit.limit() < 16) {
    limits_after_successes(limit, limit.limit());
    seen.push_back(limit.limit());
    round_trips += 1;
  }
  CHECK(seen == std::vector<int>{1, 2, 4, 8, 16});
  CHECK(round_trips == 4);
  limits_after_successes(limit, 100);
  CHECK(limit.limit() == 16);
}

TEST_CASE("concurrency limit: an overload halves it, then it grows by one a round trip", "[engine][concurrency]") {
  const TimePoint t0 = TimePoint{} + 1h;
  ConcurrencyLimit limit = ConcurrencyLimit::adaptive(64);
  limit.restart();
  limits_after_successes(limit, 19);  // slow start: 1 + 19
  REQUIRE(limit.limit() == 20);
  limit.on_overload(t0, t0 + 10ms);
  CHECK(limit.limit() == 10);
  // From the threshold on: 10 successes for 11, 11 more for 12.
  CHECK(limits_after_successes(limit, 9) == std::vector<int>(9, 10));
  limit.on_success();
  CHECK(limit.limit() == 11);
  limits_after_successes(limit, 10);
  CHECK(limit.limit() == 11);
  limit.on_success();
  CHECK(limit.limit() == 12);
}

TEST_CASE("concurrency limit: one overloaded round trip halves it once; a later one halves it again",
          "[engine][concurrency]") {
  const TimePoint t0 = TimePoint{} + 1h;
  ConcurrencyLimit limit = ConcurrencyLimit::adaptive(64);
  limit.restart();
  limits_after_successes(limit, 31);
  REQUIRE(limit.limit() == 32);
  // 32 requests sent at t0 all answer 429 at t0 + 50ms: one cut, not five.
  for (int i = 0; i < 32; ++i) limit.on_overload(t0, t0 + 50ms);
  CHECK(limit.limit() == 16);
  // A request sent after the cut was known says the smaller limit is still too much.
  limit.on_overload(t0 + 60ms, t0 + 100ms);
  CHECK(limit.limit() == 8);
  for (int i = 0; i < 10; ++i) limit.on_overload(t0 + 200ms, t0 + 300ms);
  CHECK(limit.limit() == 4);
  limit.on_overload(t0 + 400ms, t0 + 500ms);
  limit.on_overload(t0 + 600ms, t0 + 700ms);
  limit.on_overload(t0 + 800ms, t0 + 900ms);
  CHECK(limit.limit() == 1);  // never below 1
}

TEST_CASE("concurrency limit: restart after an outage starts again from 1 in slow start", "[engine][concurrency]") {
  const TimePoint t0 = TimePoint{} + 1h;
  ConcurrencyLimit limit = ConcurrencyLimit::adaptive(8);
  limit.on_overload(t0, t0);
  REQUIRE(limit.limit() == 4);
  limit.restart();
  CHECK(limit.limit() == 1);
  // Slow start again up to the maximum, not only up to the threshold of before the outage.
  CHECK(limits_after_successes(limit, 7) == std::vector<int>{2, 3, 4, 5, 6, 7, 8});
}

TEST_CASE("concurrency limit: a fixed limit stays where it is set, within its maximum", "[engine][concurrency]") {
  const TimePoint t0 = TimePoint{} + 1h;
  ConcurrencyLimit limit = ConcurrencyLimit::fixed(4, 16);
  CHECK_FALSE(limit.is_adaptive());
  CHECK(limit.limit() == 4);
  limits_after_successes(limit, 50);
  limit.on_overload(t0, t0);
  limit.restart();
  CHECK(limit.limit() == 4);
  CHECK(ConcurrencyLimit::fixed(40, 16).limit() == 16);
  CHECK(ConcurrencyLimit::adaptive(0).limit() == 1);
}
