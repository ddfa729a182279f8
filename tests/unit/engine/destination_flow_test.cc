// A destination with flow limits: an adaptive concurrency limit that starts small again when
// the breaker closes after an outage and halves on overload, a fixed one, and a rate limit
// that sends only with a token, wakes up at the next one and pauses the partitions feeding a
// queue that grew past its bound.

#include <catch2/catch.hpp>

#include <algorithm>
#include <vector>

#include "destination_helpers.h"

using namespace sluice::engine;
using namespace sluice::engine::testing;
using namespace std::chrono_literals;
using sluice::config::Ordering;
using Verdict = Destination::Verdict;
using Result = Destination::Result;

namespace {

// Answers every record in flight now (not those sent meanwhile) as delivered.
void answer_round_trip(DestinationFixture& f) {
  std::vector<InFlightRecord*> in_flight;
  for (InFlightRecord* sent : f.sink->sent) {
    // A record sent again after an outage is in `sent` twice.
    const bool listed = std::find(in_flight.begin(), in_flight.end(), sent) != in_flight.end();
    if (sent->step() == Step::Forwarding && !listed) in_flight.push_back(sent);
  }
  for (InFlightRecord* record : in_flight) CHECK(f.succeed(*record) == Verdict::Delivered);
}

}  // namespace

TEST_CASE("destination: after an outage the breaker closes into slow start, not everything at once",
          "[engine][destination][concurrency]") {
  // An HTTP-like destination of 16 connections; the endpoint is down for 10 s.
  DestinationFixture f(Ordering::None, 16, breaker_settings(3, 1, 1, 10s));
  f.destination.set_concurrency_limit(ConcurrencyLimit::adaptive(16));
  for (int64_t offset = 0; offset < 200; ++offset) f.offer(0, offset);
  // Start-up is not held back: an endpoint that holds requests long still gets them all.
  CHECK(f.destination.in_flight() == 16);
  answer_round_trip(f);
  CHECK(f.destination.in_flight() == 16);
  CHECK(f.destination.concurrency_limit() == 16);

  // The endpoint goes down: two failures go to a retry tier, the third opens the breaker and
  // waits, as does the rest of the round trip.
  for (int i = 0; i < 2; ++i) CHECK(f.fail(*f.first_in_flight()) == Verdict::Retry);
  CHECK(f.fail(*f.first_in_flight()) == Verdict::Waiting);
  REQUIRE(f.destination.breaker().current_state() == BreakerState::Open);
  while (InFlightRecord* next = f.first_in_flight()) CHECK(f.fail(*next) == Verdict::Waiting);

  // Ten seconds later the probe goes, succeeds and closes the breaker.
  f.now += 10s;
  f.destination.wake(f.now);
  REQUIRE(f.destination.in_flight() == 1);
  CHECK(f.succeed(*f.first_in_flight()) == Verdict::Delivered);
  REQUIRE(f.destination.breaker().current_state() == BreakerState::Closed);
  const size_t queued_at_close = f.destination.queued();
  REQUIRE(queued_at_close > 100);

  // The first second after it closed, with a round trip of 100 ms: round trip k has at most
  // 2^k requests in flight (1, 2, 4, 8, then the 16 connections), never all 16 at once.
  CHECK(f.destination.in_flight() == 1);
  CHECK(f.destination.concurrency_limit() == 1);
  std::vector<int> in_flight_per_trip;
  for (int trip = 0; trip < 10; ++trip) {
    in_flight_per_trip.push_back(f.destination.in_flight());
    f.now += 100ms;
    answer_round_trip(f);
  }
  CHECK(std::vector<int>(in_flight_per_trip.begin(), in_flight_per_trip.begin() + 5) ==
        std::vector<int>{1, 2, 4, 8, 16});
  CHECK(*std::max_element(in_flight_per_trip.begin(), in_flight_per_trip.end()) == 16);
  CHECK(f.events.transitions.back().second == BreakerState::Closed);
}

TEST_CASE("destination: an overloaded answer halves the room; the round trip's other answers do not",
          "[engine][destination][concurrency]") {
  DestinationFixture f(Ordering::None, 16);
  f.destination.set_concurrency_limit(ConcurrencyLimit::adaptive(16));
  for (int64_t offset = 0; offset < 100; ++offset) f.offer(0, offset);
  REQUIRE(f.destination.in_flight() == 16);

  f.now += 50ms;
  // Three 429s of one round trip: the limit halves once (its records go to a retry tier, the
  // breaker staying closed).
  for (int i = 0; i < 3; ++i) CHECK(f.answer(*f.first_in_flight(), Result::Overloaded) == Verdict::Retry);
  CHECK(f.destination.concurrency_limit() == 8);
  // No new request until fewer than 8 are in flight.
  CHECK(f.destination.in_flight() == 13);
  for (int i = 0; i < 5; ++i) CHECK(f.succeed(*f.first_in_flight()) == Verdict::Delivered);
  CHECK(f.destination.in_flight() == 8);
  // A plain transient failure (a 500) is not an overload: the limit stays.
  const int before = f.destination.concurrency_limit();
  CHECK(f.answer(*f.first_in_flight(), Result::Transient) == Verdict::Retry);
  CHECK(f.destination.concurrency_limit() == before);
}

TEST_CASE("destination: a fixed concurrency keeps that many in flight", "[engine][destination][concurrency]") {
  DestinationFixture f(Ordering::None, 16);
  f.destination.set_concurrency_limit(ConcurrencyLimit::fixed(4, 16));
  for (int64_t offset = 0; offset < 20; ++offset) f.offer(0, offset);
  CHECK(f.destination.in_flight() == 4);
  answer_round_trip(f);
  CHECK(f.destination.in_flight() == 4);
  CHECK(f.destination.queued() == 12);
}

TEST_CASE("destination: a rate limit sends with tokens only and wakes up at the next one",
          "[engine][destination][rate_limit]") {
  DestinationFixture f(Ordering::None);
  f.destination.set_rate_limit(RateLimiter(100, 10));
  const TimePoint start = f.now;
  for (int64_t offset = 0; offset < 50; ++offset) f.offer(0, offset);
  CHECK(f.sink->sent.size() == 10);  // the burst
  REQUIRE(f.events.wakes.size() == 1);
  CHECK(f.events.wakes.back() == start + 10ms);
  // The engine wakes the destination when asked: one record every 10 ms.
  std::vector<TimePoint> sent_at;
  while (f.destination.queued() > 0) {
    const size_t wakes = f.events.wakes.size();
    f.now = f.events.wakes.back();
    f.destination.wake(f.now);
    for (size_t i = sent_at.size() + 10; i < f.sink->sent.size(); ++i) sent_at.push_back(f.now);
    REQUIRE((f.destination.queued() == 0 || f.events.wakes.size() == wakes + 1));
  }
  REQUIRE(sent_at.size() == 40);
  CHECK(sent_at.front() == start + 10ms);
  CHECK(sent_at.back() == start + 400ms);
  // Every record after the burst waited for its token, and each is counted once.
  CHECK(f.events.rate_limited.size() == 40);
  CHECK(f.sent_offsets().size() == 50);
}

TEST_CASE("destination: records piling up behind a rate limit pause their partitions until the queue is down",
          "[engine][destination][rate_limit]") {
  DestinationFixture f(Ordering::Partition);
  f.destination.set_rate_limit(RateLimiter(1000, 1));
  const auto bound = static_cast<int64_t>(Destination::kRateQueueBound);
  // Ordering partition: one in flight per partition; answered at once, so only tokens hold
  // records back.
  auto answer_sent = [&] {
    while (InFlightRecord* next = f.first_in_flight()) CHECK(f.succeed(*next) == Verdict::Delivered);
  };
  for (int64_t offset = 0; offset < bound; ++offset) {
    f.offer(0, offset);
    answer_sent();
  }
  CHECK_FALSE(f.events.held(*f.partition(0)));
  for (int64_t offset = bound; offset < bound + 10; ++offset) f.offer(1, offset);
  CHECK(f.destination.queued() > Destination::kRateQueueBound);
  CHECK(f.events.held(*f.partition(0)));
  CHECK(f.events.held(*f.partition(1)));
  // A partition whose first record arrives meanwhile is paused at once.
  f.offer(2, 0);
  CHECK(f.events.held(*f.partition(2)));

  // Tokens come; holds stay until the queue is down to half the bound.
  while (f.destination.queued() > Destination::kRateQueueBound / 2 + 1) {
    f.now = f.events.wakes.back();
    f.destination.wake(f.now);
    answer_sent();
    CHECK(f.events.held(*f.partition(0)));
  }
  f.now = f.events.wakes.back();
  f.destination.wake(f.now);
  answer_sent();
  CHECK(f.destination.queued() <= Destination::kRateQueueBound / 2);
  CHECK_FALSE(f.events.held(*f.partition(0)));
  CHECK_FALSE(f.events.held(*f.partition(1)));
  CHECK_FALSE(f.events.held(*f.partition(2)));
  // Nothing lost: the rest drains.
  while (f.destination.queued() > 0) {
    f.now = f.events.wakes.back();
    f.destination.wake(f.now);
    answer_sent();
  }
  CHECK(f.sink->sent.size() == static_cast<size_t>(bound + 11));
  // With a gate per partition too, each record's wait is counted once.
  std::vector<InFlightRecord*> waited = f.events.rate_limited;
  std::sort(waited.begin(), waited.end());
  CHECK(std::adjacent_find(waited.begin(), waited.end()) == waited.end());
  CHECK(waited.size() >= static_cast<size_t>(bound));
}
