// The token bucket on a clock moved by hand: it starts full, refills at the rate up to the
// burst, and says when the next token comes.

#include <catch2/catch.hpp>

#include <chrono>

#include "engine/rate_limiter.h"

using sluice::engine::RateLimiter;
using namespace std::chrono_literals;
using TimePoint = RateLimiter::TimePoint;

namespace {

// Takes every token there is at `now`; returns how many.
int drain(RateLimiter& limiter, TimePoint now) {
  int taken = 0;
  while (limiter.ready(now)) {
    limiter.take(now);
    taken += 1;
  }
  return taken;
}

}  // namespace

TEST_CASE("rate limiter: a full bucket gives burst tokens at once, then one per 1/rate", "[engine][rate_limit]") {
  const TimePoint t0 = TimePoint{} + 1h;
  RateLimiter limiter(200, 20);
  CHECK(drain(limiter, t0) == 20);
  // The next token comes 5 ms later, not before.
  CHECK(limiter.next_token() == t0 + 5ms);
  CHECK_FALSE(limiter.ready(t0 + 4ms));
  CHECK(limiter.ready(t0 + 5ms));
  limiter.take(t0 + 5ms);
  CHECK(limiter.next_token() == t0 + 10ms);
}

TEST_CASE("rate limiter: over any span no more than burst + rate × span tokens are given", "[engine][rate_limit]") {
  const TimePoint t0 = TimePoint{} + 1h;
  RateLimiter limiter(200, 200);
  int taken = drain(limiter, t0);
  // Ten seconds of asking every 1 ms.
  for (int ms = 1; ms <= 10'000; ++ms) taken += drain(limiter, t0 + std::chrono::milliseconds(ms));
  CHECK(taken == 200 + 2000);
  // Asked only when told: the wake-ups at next_token() lose nothing either.
  RateLimiter woken(200, 1);
  TimePoint now = t0;
  int sent = 0;
  while (now < t0 + 10s) {
    sent += drain(woken, now);
    now = woken.next_token();
  }
  CHECK(sent == 2000);
}

TEST_CASE("rate limiter: a quiet spell refills only up to the burst", "[engine][rate_limit]") {
  const TimePoint t0 = TimePoint{} + 1h;
  RateLimiter limiter(10, 3);
  CHECK(drain(limiter, t0) == 3);
  CHECK(drain(limiter, t0 + 1h) == 3);
  CHECK(drain(limiter, t0 + 1h + 100ms) == 1);
  CHECK(limiter.burst() == 3);
  CHECK(RateLimiter(10, 0).burst() == 1);
}
