// A destination and its circuit breaker: the breaker is asked only when a record is actually
// sent, so an outage stops everything that has not left yet, only the allowed probes go out,
// and a record that failed in the outage waits at the head of its gate.

#include <catch2/catch.hpp>

#include <vector>

#include "destination_helpers.h"

using namespace sluice::engine;
using namespace sluice::engine::testing;
using namespace std::chrono_literals;
using sluice::config::Ordering;
using Verdict = Destination::Verdict;
using Result = Destination::Result;

TEST_CASE("destination: during an outage only the failures that open the breaker and then the probes are sent",
          "[engine][destination][breaker]") {
  // 40 records of one partition, ten in flight at once, a sink that fails everything: the
  // breaker opens at the fifth failure, and from then on nothing is sent until open_timeout,
  // after which exactly half_open_max_calls probes go. If the breaker were not asked at
  // dispatch, the queued records would all go and fail.
  DestinationFixture f(Ordering::None, 10, breaker_settings(5, 2, 3));
  std::vector<InFlightRecord*> records;
  for (int64_t offset = 0; offset < 40; ++offset) records.push_back(&f.offer(0, offset));
  CHECK(f.sink->sent.size() == 10);
  CHECK(f.destination.queued() == 30);

  // Four failures while closed: each goes to a retry tier and frees room for the next record.
  for (size_t i = 0; i < 4; ++i) CHECK(f.fail(*records[i]) == Verdict::Retry);
  CHECK(f.sink->sent.size() == 14);
  // The fifth opens the breaker: from now on a failure is the outage's, not the record's.
  CHECK(f.fail(*records[4]) == Verdict::Waiting);
  CHECK(f.destination.breaker().current_state() == BreakerState::Open);
  for (size_t i = 5; i < 14; ++i) CHECK(f.fail(*records[i]) == Verdict::Waiting);
  CHECK(f.sink->sent.size() == 14);
  CHECK(f.destination.queued() == 36);
  CHECK(f.destination.in_flight() == 0);
  REQUIRE_FALSE(f.events.wakes.empty());
  CHECK(f.events.wakes.back() == f.now + 60s);

  f.now += 59s;
  f.destination.pump(f.now);
  CHECK(f.sink->sent.size() == 14);

  f.now += 1s;
  f.destination.wake(f.now);
  f.destination.pump(f.now);
  CHECK(f.sink->sent.size() == 16);
  CHECK(f.sent_offsets(14) == std::vector<int64_t>{4, 5});  // the oldest waiting records probe

  // Three successful probes close it; then everything queued goes, in offset order.
  std::vector<int64_t> delivered = f.deliver_all();
  CHECK(f.destination.breaker().current_state() == BreakerState::Closed);
  CHECK(f.destination.queued() == 0);
  std::vector<int64_t> expected;
  for (int64_t offset = 4; offset < 40; ++offset) expected.push_back(offset);
  CHECK(f.sent_offsets(14) == expected);  // each waiting record sent once, in order
  CHECK(delivered == expected);
}

TEST_CASE("destination: records behind a busy gate take no breaker permit", "[engine][destination][breaker]") {
  // Half-open with two probe slots: the first probe goes from partition 0, whose gate is then
  // busy. A record offered behind it must not take the second slot (it cannot be sent), so
  // that partition 1's record can probe.
  DestinationFixture f(Ordering::Partition, 0, breaker_settings(1, 2, 3));
  InFlightRecord& first = f.offer(0, 0);
  CHECK(f.fail(first) == Verdict::Waiting);
  f.now += 60s;
  f.destination.wake(f.now);
  REQUIRE(f.sink->sent.size() == 2);
  CHECK(f.destination.breaker().probe_slots() == 1);

  f.offer(0, 1);
  f.offer(0, 2);
  CHECK(f.sink->sent.size() == 2);
  CHECK(f.destination.breaker().probe_slots() == 1);

  InFlightRecord& other = f.offer(1, 0);
  CHECK(&f.last_sent() == &other);
  CHECK(f.destination.breaker().probe_slots() == 0);
  CHECK(other.permit.probe);
}

TEST_CASE("destination: with ordering key, a record behind its key's busy gate takes no breaker permit",
          "[engine][destination][breaker]") {
  DestinationFixture f(Ordering::Key, 0, breaker_settings(1, 2, 3));
  InFlightRecord& first = f.offer(0, 0, "a");
  CHECK(f.fail(first) == Verdict::Waiting);
  f.now += 60s;
  f.destination.wake(f.now);
  REQUIRE(f.sink->sent.size() == 2);
  f.offer(0, 1, "a");  // same key: waits for the probe, without a permit
  CHECK(f.sink->sent.size() == 2);
  CHECK(f.destination.breaker().probe_slots() == 1);
  InFlightRecord& other_key = f.offer(0, 2, "b");
  CHECK(&f.last_sent() == &other_key);
  CHECK(f.destination.breaker().probe_slots() == 0);
}

TEST_CASE("destination: queued records are not sent while the breaker is open", "[engine][destination][breaker]") {
  // Eight partitions, one record each in flight and four more each queued behind them; every
  // delivery fails. Five failures open the breaker; the records in flight then come back
  // (stale permits, but the outage is not their fault) and nothing queued is sent.
  DestinationFixture f(Ordering::Partition, 0, breaker_settings(5, 1, 1));
  std::vector<InFlightRecord*> heads;
  for (int32_t partition = 0; partition < 8; ++partition) {
    for (int64_t offset = 0; offset < 5; ++offset) {
      InFlightRecord& record = f.offer(partition, offset);
      if (offset == 0) heads.push_back(&record);
    }
  }
  CHECK(f.sink->sent.size() == 8);
  CHECK(f.destination.queued() == 32);
  std::vector<Verdict> verdicts;
  for (InFlightRecord* head : heads) verdicts.push_back(f.destination.on_result(*head, Result::Transient, f.now));
  f.destination.pump(f.now);
  CHECK(verdicts == std::vector<Verdict>{Verdict::Retry, Verdict::Retry, Verdict::Retry, Verdict::Retry,
                                         Verdict::Waiting, Verdict::Waiting, Verdict::Waiting, Verdict::Waiting});
  CHECK(f.sink->sent.size() == 8);
  CHECK(f.destination.queued() == 36);
  CHECK(f.destination.waiting_on_breaker() == 36);

  f.now += 30s;
  f.destination.pump(f.now);
  CHECK(f.sink->sent.size() == 8);
  f.now += 30s;
  f.destination.wake(f.now);
  CHECK(f.sink->sent.size() == 9);  // one probe
  // The probe is the record that waits first in its gate: in partitions 4..7 the one that
  // failed in the outage, not a later one (0..3 sent theirs to a retry tier).
  InFlightRecord& probe = f.last_sent();
  CHECK(probe.offset == (probe.partition->partition < 4 ? 1 : 0));
  CHECK(probe.permit.probe);
}

TEST_CASE("destination: a transient failure while the breaker stays closed is for the retry tiers",
          "[engine][destination][breaker]") {
  DestinationFixture f(Ordering::Partition, 0, breaker_settings(5));
  InFlightRecord& first = f.offer(0, 0);
  f.offer(0, 1);
  CHECK(f.fail(first) == Verdict::Retry);
  // It is not queued again: the next record of the partition goes instead.
  CHECK(f.sent_offsets() == std::vector<int64_t>{0, 1});
  CHECK(f.destination.queued() == 0);
  CHECK(f.destination.breaker().current_state() == BreakerState::Closed);
  CHECK(f.events.hold_calls.empty());
}

TEST_CASE("destination: failures after the breaker opened wait at the head of their gate, stale permits too",
          "[engine][destination][breaker]") {
  DestinationFixture f(Ordering::Partition, 0, breaker_settings(1, 1, 1));
  InFlightRecord& a = f.offer(0, 10);
  InFlightRecord& b = f.offer(1, 20);
  f.offer(0, 11);
  f.offer(1, 21);
  f.offer(1, 22);
  // `a` opens the breaker; `b` was sent before that, with a permit of the closed breaker.
  CHECK(f.fail(a) == Verdict::Waiting);
  CHECK(f.fail(b) == Verdict::Waiting);
  CHECK(a.step() == Step::Queued);
  CHECK(b.step() == Step::Queued);
  CHECK(f.destination.queued() == 5);

  f.now += 60s;
  f.destination.wake(f.now);
  InFlightRecord& probe = f.last_sent();
  CHECK((&probe == &a || &probe == &b));
  CHECK(f.succeed(probe) == Verdict::Delivered);  // closes it; everything goes
  f.deliver_all();
  CHECK(f.destination.queued() == 0);
  CHECK(f.sent_offsets_of(0, 2) == std::vector<int64_t>{10, 11});
  CHECK(f.sent_offsets_of(1, 2) == std::vector<int64_t>{20, 21, 22});
}

TEST_CASE("destination: with ordering none, records of a partition failing in any order are re-sent in offset order",
          "[engine][destination][breaker]") {
  // Four in flight from partition 0 (offsets 0..3), partition 1 interleaved in the queue; the
  // in-flight ones fail in the order 2, 0, 3, 1. Each must go back ahead of every later record
  // of its partition, so partition 0 leaves as 0, 1, 2, 3, 4, 5 after the outage.
  DestinationFixture f(Ordering::None, 4, breaker_settings(1, 1, 1));
  std::vector<InFlightRecord*> p0;
  for (int64_t offset = 0; offset < 4; ++offset) p0.push_back(&f.offer(0, offset));
  f.offer(1, 100);
  p0.push_back(&f.offer(0, 4));
  f.offer(1, 101);
  p0.push_back(&f.offer(0, 5));
  REQUIRE(f.sink->sent.size() == 4);
  for (size_t i : {2, 0, 3, 1}) CHECK(f.fail(*p0[i]) == Verdict::Waiting);
  CHECK(f.destination.queued() == 8);

  const size_t before = f.sink->sent.size();
  f.now += 60s;
  f.destination.wake(f.now);
  CHECK(f.sent_offsets(before) == std::vector<int64_t>{100});  // the probe: the gate's head
  f.deliver_all();
  CHECK(f.destination.queued() == 0);
  CHECK(f.sent_offsets_of(0, before) == std::vector<int64_t>{0, 1, 2, 3, 4, 5});
  CHECK(f.sent_offsets_of(1, before) == std::vector<int64_t>{100, 101});
}

TEST_CASE("destination: a failed probe reopens the breaker and stays at the head of its gate",
          "[engine][destination][breaker]") {
  DestinationFixture f(Ordering::Partition, 0, breaker_settings(1, 1, 2));
  InFlightRecord& first = f.offer(0, 0);
  f.offer(0, 1);
  f.offer(0, 2);
  CHECK(f.fail(first) == Verdict::Waiting);

  f.now += 60s;
  f.destination.wake(f.now);
  CHECK(&f.last_sent() == &first);
  CHECK(first.permit.probe);
  // A timeout of the probe, reported as a transient failure: open again for open_timeout.
  CHECK(f.fail(first) == Verdict::Waiting);
  CHECK(f.destination.breaker().current_state() == BreakerState::Open);
  REQUIRE_FALSE(f.events.wakes.empty());
  CHECK(f.events.wakes.back() == f.now + 60s);
  const size_t sends = f.sink->sent.size();
  f.now += 59s;
  f.destination.pump(f.now);
  CHECK(f.sink->sent.size() == sends);

  f.now += 1s;
  f.destination.wake(f.now);
  CHECK(&f.last_sent() == &first);  // still the head, not a later record
  CHECK(f.succeed(first) == Verdict::Delivered);
  CHECK(f.destination.breaker().current_state() == BreakerState::HalfOpen);
  InFlightRecord& second = f.last_sent();
  CHECK(second.offset == 1);
  CHECK(f.succeed(second) == Verdict::Delivered);  // success_threshold reached
  CHECK(f.destination.breaker().current_state() == BreakerState::Closed);
  CHECK(f.last_sent().offset == 2);
  CHECK(f.sent_offsets() == std::vector<int64_t>{0, 0, 0, 1, 2});
  std::vector<std::pair<BreakerState, BreakerState>> expected = {
      {BreakerState::Closed, BreakerState::Open},   {BreakerState::Open, BreakerState::HalfOpen},
      {BreakerState::HalfOpen, BreakerState::Open}, {BreakerState::Open, BreakerState::HalfOpen},
      {BreakerState::HalfOpen, BreakerState::Closed}};
  CHECK(f.events.transitions == expected);
}

TEST_CASE("destination: success_threshold probes close the breaker and everything queued goes",
          "[engine][destination][breaker]") {
  DestinationFixture f(Ordering::None, 0, breaker_settings(1, 1, 3));
  InFlightRecord& first = f.offer(0, 0);
  CHECK(f.fail(first) == Verdict::Waiting);
  for (int64_t offset = 1; offset < 10; ++offset) f.offer(0, offset);
  CHECK(f.sink->sent.size() == 1);
  f.now += 60s;
  f.destination.wake(f.now);
  for (int probe = 0; probe < 3; ++probe) {
    CHECK(f.destination.breaker().current_state() == BreakerState::HalfOpen);
    CHECK(f.destination.in_flight() == 1);  // one probe at a time
    InFlightRecord& sent = f.last_sent();
    CHECK(sent.offset == probe);
    f.succeed(sent);
  }
  CHECK(f.destination.breaker().current_state() == BreakerState::Closed);
  CHECK(f.destination.queued() == 0);
  CHECK(f.destination.in_flight() == 7);
  CHECK(f.sent_offsets() == std::vector<int64_t>{0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
}

TEST_CASE("destination: bad data counts the destination as up", "[engine][destination][breaker]") {
  SECTION("while closed, it breaks a run of failures") {
    DestinationFixture f(Ordering::Partition, 0, breaker_settings(2));
    CHECK(f.fail(f.offer(0, 0)) == Verdict::Retry);
    CHECK(f.answer(f.offer(0, 1), Result::BadData) == Verdict::BadData);
    CHECK(f.fail(f.offer(0, 2)) == Verdict::Retry);
    CHECK(f.destination.breaker().current_state() == BreakerState::Closed);
  }
  SECTION("a probe answered with bad data is a successful probe") {
    DestinationFixture f(Ordering::Partition, 0, breaker_settings(1, 1, 1));
    InFlightRecord& first = f.offer(0, 0);
    CHECK(f.fail(first) == Verdict::Waiting);
    f.now += 60s;
    f.destination.wake(f.now);
    CHECK(f.answer(first, Result::BadData) == Verdict::BadData);
    CHECK(f.destination.breaker().current_state() == BreakerState::Closed);
    CHECK(f.destination.queued() == 0);  // it is the DLQ's now, not queued again
  }
}

TEST_CASE("destination: a record the sink refuses at once is reported refused and the destination counts as up",
          "[engine][destination][breaker]") {
  DestinationFixture f(Ordering::Partition, 0, breaker_settings(1, 1, 1));
  InFlightRecord& first = f.offer(0, 0);
  CHECK(f.fail(first) == Verdict::Waiting);
  f.offer(0, 1);
  f.now += 60s;
  f.sink->answers.push_back({SendStatus::Rejected, "Broker: Message size too large"});
  const size_t dispatched = f.events.dispatched.size();
  f.destination.wake(f.now);
  REQUIRE(f.events.refused.size() == 1);
  CHECK(f.events.refused[0].first == &first);
  CHECK(f.events.refused[0].second == "Broker: Message size too large");
  // Refused is not dispatched: only the next record is.
  REQUIRE(f.events.dispatched.size() == dispatched + 1);
  CHECK(f.events.dispatched.back()->offset == 1);
  // The probe's answer was "the sink works": closed, and the next record went at once.
  CHECK(f.destination.breaker().current_state() == BreakerState::Closed);
  CHECK(f.sent_offsets() == std::vector<int64_t>{0, 0, 1});
  CHECK(f.destination.in_flight() == 1);
}

TEST_CASE("destination: a cancelled probe frees its slot and is not queued again", "[engine][destination][breaker]") {
  DestinationFixture f(Ordering::Partition, 0, breaker_settings(1, 1, 1));
  InFlightRecord& first = f.offer(0, 0);
  CHECK(f.fail(first) == Verdict::Waiting);
  f.now += 60s;
  f.destination.wake(f.now);
  CHECK(f.destination.breaker().probe_slots() == 0);
  CHECK(f.answer(first, Result::Cancelled) == Verdict::Cancelled);
  CHECK(f.destination.breaker().probe_slots() == 1);
  CHECK(f.destination.queued() == 0);
}
