#include <catch2/catch.hpp>

#include <vector>

#include "engine/circuit_breaker.h"

using namespace sluice::engine;
using namespace std::chrono_literals;

namespace {

struct Fixture {
  CircuitBreaker::Clock::time_point now{};
  std::vector<std::pair<BreakerState, BreakerState>> transitions;
  CircuitBreaker breaker;

  explicit Fixture(BreakerSettings settings = {})
      : breaker(settings, [this](BreakerState from, BreakerState to) { transitions.emplace_back(from, to); }) {}

  void fail_once() {
    auto permit = breaker.try_acquire(now);
    REQUIRE(permit.granted);
    breaker.on_failure(permit, now);
  }
  void succeed_once() {
    auto permit = breaker.try_acquire(now);
    REQUIRE(permit.granted);
    breaker.on_success(permit, now);
  }
};

}  // namespace

TEST_CASE("breaker opens after failure_threshold consecutive failures", "[engine][breaker]") {
  Fixture f;
  for (int i = 0; i < 4; ++i) f.fail_once();
  CHECK(f.breaker.state(f.now) == BreakerState::Closed);
  f.succeed_once();  // a success resets the count
  for (int i = 0; i < 4; ++i) f.fail_once();
  CHECK(f.breaker.state(f.now) == BreakerState::Closed);
  f.fail_once();
  CHECK(f.breaker.state(f.now) == BreakerState::Open);
  CHECK_FALSE(f.breaker.try_acquire(f.now).granted);
  REQUIRE(f.transitions.size() == 1);
  CHECK(f.transitions[0] == std::make_pair(BreakerState::Closed, BreakerState::Open));
}

TEST_CASE("an open breaker half-opens after open_timeout and lets only the allowed probes through",
          "[engine][breaker]") {
  BreakerSettings settings;
  settings.half_open_max_calls = 2;
  Fixture f(settings);
  for (int i = 0; i < 5; ++i) f.fail_once();
  f.now += 59s;
  CHECK_FALSE(f.breaker.try_acquire(f.now).granted);
  f.now += 1s;
  CHECK(f.breaker.state(f.now) == BreakerState::HalfOpen);
  auto first = f.breaker.try_acquire(f.now);
  auto second = f.breaker.try_acquire(f.now);
  auto third = f.breaker.try_acquire(f.now);
  CHECK(first.granted);
  CHECK(first.probe);
  CHECK(second.granted);
  CHECK_FALSE(third.granted);
  f.breaker.on_success(first, f.now);
  CHECK(f.breaker.try_acquire(f.now).granted);  // the slot is free again
}

TEST_CASE("success_threshold probe successes close the breaker, and a failed probe reopens it", "[engine][breaker]") {
  Fixture f;
  for (int i = 0; i < 5; ++i) f.fail_once();
  f.now += 60s;
  f.succeed_once();
  f.succeed_once();
  CHECK(f.breaker.state(f.now) == BreakerState::HalfOpen);
  f.fail_once();
  CHECK(f.breaker.state(f.now) == BreakerState::Open);
  f.now += 60s;
  for (int i = 0; i < 3; ++i) f.succeed_once();
  CHECK(f.breaker.state(f.now) == BreakerState::Closed);
  std::vector<std::pair<BreakerState, BreakerState>> expected = {
      {BreakerState::Closed, BreakerState::Open},   {BreakerState::Open, BreakerState::HalfOpen},
      {BreakerState::HalfOpen, BreakerState::Open}, {BreakerState::Open, BreakerState::HalfOpen},
      {BreakerState::HalfOpen, BreakerState::Closed}};
  CHECK(f.transitions == expected);
}

TEST_CASE("late results of deliveries started before the breaker opened change nothing", "[engine][breaker]") {
  Fixture f;
  std::vector<CircuitBreaker::Permit> early;
  for (int i = 0; i < 10; ++i) early.push_back(f.breaker.try_acquire(f.now));
  for (int i = 0; i < 5; ++i) f.breaker.on_failure(early[static_cast<size_t>(i)], f.now);
  CHECK(f.breaker.state(f.now) == BreakerState::Open);
  f.now += 60s;
  CHECK(f.breaker.state(f.now) == BreakerState::HalfOpen);
  // Late successes of pre-open deliveries must not count as probe successes.
  for (int i = 5; i < 10; ++i) f.breaker.on_success(early[static_cast<size_t>(i)], f.now);
  CHECK(f.breaker.state(f.now) == BreakerState::HalfOpen);
  CHECK(f.transitions.size() == 2);
}

TEST_CASE("Retry-After keeps an opened breaker open at least that long", "[engine][breaker]") {
  BreakerSettings settings;
  settings.failure_threshold = 1;
  settings.open_timeout = 1s;
  Fixture f(settings);
  auto permit = f.breaker.try_acquire(f.now);
  f.breaker.on_failure(permit, f.now, 30s);
  f.now += 29s;
  CHECK(f.breaker.state(f.now) == BreakerState::Open);
  f.now += 1s;
  CHECK(f.breaker.state(f.now) == BreakerState::HalfOpen);
}

TEST_CASE("the optional failure-rate rule opens the breaker over a sliding window", "[engine][breaker]") {
  BreakerSettings settings;
  settings.failure_threshold = 1000;  // out of the way
  settings.failure_rate_threshold = 50;
  settings.sliding_window_size = 10;
  settings.minimum_calls = 10;
  Fixture f(settings);
  for (int i = 0; i < 4; ++i) {
    f.succeed_once();
    f.fail_once();
  }
  CHECK(f.breaker.state(f.now) == BreakerState::Closed);  // 8 calls: below minimum_calls
  f.succeed_once();
  f.fail_once();  // 10 calls, 5 failures: 50%
  CHECK(f.breaker.state(f.now) == BreakerState::Open);
}

TEST_CASE("a cancelled probe frees its slot", "[engine][breaker]") {
  Fixture f;
  for (int i = 0; i < 5; ++i) f.fail_once();
  f.now += 60s;
  auto probe = f.breaker.try_acquire(f.now);
  REQUIRE(probe.granted);
  CHECK_FALSE(f.breaker.try_acquire(f.now).granted);
  f.breaker.cancel(probe);
  CHECK(f.breaker.try_acquire(f.now).granted);
}
