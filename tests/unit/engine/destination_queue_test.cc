// A destination's queue: ordering gates, capacity, a sink whose local queue is full, the
// partitions paused while an outage holds their records, and withdrawing a partition.

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "destination_helpers.h"

using namespace sluice::engine;
using namespace sluice::engine::testing;
using namespace std::chrono_literals;
using sluice::config::Ordering;
using Verdict = Destination::Verdict;
using Result = Destination::Result;

TEST_CASE("destination: ordering partition sends one record of a partition at a time, in order",
          "[engine][destination]") {
  DestinationFixture f(Ordering::Partition);
  for (int64_t offset = 0; offset < 3; ++offset) f.offer(0, offset);
  f.offer(1, 0);
  CHECK(f.sent_offsets_of(0) == std::vector<int64_t>{0});
  CHECK(f.sent_offsets_of(1) == std::vector<int64_t>{0});
  CHECK(f.destination.in_flight() == 2);
  CHECK(f.destination.queued() == 2);
  f.deliver_all();
  CHECK(f.sent_offsets_of(0) == std::vector<int64_t>{0, 1, 2});
}

TEST_CASE("destination: ordering key keeps one record per key in flight", "[engine][destination]") {
  DestinationFixture f(Ordering::Key);
  InFlightRecord& a0 = f.offer(0, 0, "a");
  f.offer(0, 1, "b");
  f.offer(0, 2, "a");
  // Different keys of one partition go together; the same key waits for its predecessor.
  CHECK(f.sent_offsets() == std::vector<int64_t>{0, 1});
  f.succeed(a0);
  CHECK(f.sent_offsets() == std::vector<int64_t>{0, 1, 2});
}

TEST_CASE("destination: ordering key reuses the gates of keys that went idle; each key still waits for its own only",
          "[engine][destination]") {
  DestinationFixture f(Ordering::Key);
  // Two keys come and go: their gates are retired, to be reused by the next keys.
  f.succeed(f.offer(0, 0, "a"));
  f.succeed(f.offer(0, 1, "b"));
  InFlightRecord& c2 = f.offer(0, 2, "c");
  InFlightRecord& a3 = f.offer(0, 3, "a");
  f.offer(0, 4, "c");
  f.offer(0, 5, "a");
  CHECK(f.sent_offsets() == std::vector<int64_t>{0, 1, 2, 3});
  CHECK(f.destination.queued() == 2);
  f.succeed(c2);
  CHECK(f.sent_offsets() == std::vector<int64_t>{0, 1, 2, 3, 4});
  f.succeed(a3);
  CHECK(f.sent_offsets() == std::vector<int64_t>{0, 1, 2, 3, 4, 5});
  f.deliver_all();
  CHECK(f.destination.in_flight() == 0);
  CHECK(f.destination.queued() == 0);
}

TEST_CASE("destination: with ordering none at most capacity records are in flight, and results free room",
          "[engine][destination]") {
  DestinationFixture f(Ordering::None, 3);
  std::vector<InFlightRecord*> records;
  for (int64_t offset = 0; offset < 8; ++offset) {
    records.push_back(&f.offer(offset % 2, offset));
    CHECK(f.destination.in_flight() <= 3);
  }
  CHECK(f.destination.in_flight() == 3);
  CHECK(f.destination.queued() == 5);
  CHECK(f.sent_offsets() == std::vector<int64_t>{0, 1, 2});
  // Several of one partition at once is what `none` allows.
  CHECK(f.sent_offsets_of(0) == std::vector<int64_t>{0, 2});

  // Any kind of result frees room for exactly one more.
  f.answer(*records[1], Result::BadData);
  CHECK(f.sent_offsets() == std::vector<int64_t>{0, 1, 2, 3});
  f.answer(*records[0], Result::Transient);  // to a retry tier: the breaker stays closed
  CHECK(f.sent_offsets() == std::vector<int64_t>{0, 1, 2, 3, 4});
  CHECK(f.destination.in_flight() == 3);
  f.deliver_all();
  CHECK(f.destination.in_flight() == 0);
  CHECK(f.destination.queued() == 0);
  CHECK(f.sink->sent.size() == 8);
}

TEST_CASE("destination: a full local queue puts the record back at the head and asks for a wake-up",
          "[engine][destination]") {
  DestinationFixture f(Ordering::Partition);
  f.sink->answers.push_back({SendStatus::QueueFull, {}});
  InFlightRecord& first = f.offer(0, 0);
  CHECK(f.sink->sent.size() == 1);  // tried once
  CHECK(f.events.dispatched.empty());
  CHECK(first.step() == Step::Queued);
  CHECK(f.destination.queued() == 1);
  REQUIRE(f.events.wakes.size() == 1);
  const TimePoint retry_at = f.events.wakes[0];
  CHECK(retry_at > f.now);

  // Nothing is sent before that time, of this partition or of any other.
  f.offer(0, 1);
  f.offer(1, 0);
  f.destination.pump(retry_at - 1ms);
  CHECK(f.sink->sent.size() == 1);

  f.destination.wake(retry_at);
  CHECK(f.sink->sent.size() == 3);
  CHECK(f.sink->sent[1] == &first);  // the same record first, ahead of its partition's next
  CHECK(f.sent_offsets_of(0) == std::vector<int64_t>{0, 0});
  f.now = retry_at;
  f.deliver_all();
  CHECK(f.sent_offsets_of(0) == std::vector<int64_t>{0, 0, 1});
  CHECK(f.destination.breaker().current_state() == BreakerState::Closed);  // not a failure
}

TEST_CASE("destination: a record that met a full queue goes back ahead of the records queued behind it",
          "[engine][destination]") {
  DestinationFixture f(Ordering::Partition);
  InFlightRecord& first = f.offer(0, 0);
  f.offer(0, 1);
  f.offer(0, 2);
  f.sink->answers.push_back({SendStatus::QueueFull, {}});
  f.succeed(first);  // offset 1 is tried next, and meets the full queue
  CHECK(f.sent_offsets() == std::vector<int64_t>{0, 1});
  REQUIRE_FALSE(f.events.wakes.empty());
  f.now = f.events.wakes.back();
  f.destination.wake(f.now);
  f.deliver_all();
  CHECK(f.sent_offsets() == std::vector<int64_t>{0, 1, 1, 2});
}

TEST_CASE("destination: a probe that met a full queue gives its probe slot back", "[engine][destination]") {
  DestinationFixture f(Ordering::Partition, 0, breaker_settings(1, 1, 1));
  CHECK(f.fail(f.offer(0, 0)) == Verdict::Waiting);
  f.now += 60s;
  f.sink->answers.push_back({SendStatus::QueueFull, {}});
  f.destination.wake(f.now);
  CHECK(f.destination.breaker().current_state() == BreakerState::HalfOpen);
  CHECK(f.destination.breaker().probe_slots() == 1);
  CHECK(f.destination.queued() == 1);
}

TEST_CASE("destination: an outage pauses exactly the partitions with queued records, and resumes them",
          "[engine][destination]") {
  DestinationFixture f(Ordering::Partition, 0, breaker_settings(1, 1, 1));
  InFlightRecord& a = f.offer(0, 0);
  f.offer(0, 1);
  f.offer(0, 2);
  InFlightRecord& b = f.offer(1, 0);
  InFlightRecord& c = f.offer(2, 0);
  auto p0 = f.partition(0);
  auto p1 = f.partition(1);
  auto p2 = f.partition(2);
  auto p3 = f.partition(3);
  CHECK(f.events.hold_calls.empty());  // queued behind a gate with the breaker closed: no pause

  CHECK(f.fail(a) == Verdict::Waiting);
  // Partition 0 has records waiting; 1 and 2 only have one in flight each.
  CHECK(f.events.held(*p0));
  CHECK_FALSE(f.events.held(*p1));
  CHECK_FALSE(f.events.held(*p2));

  CHECK(f.fail(b) == Verdict::Waiting);  // now partition 1 has one waiting too
  CHECK(f.events.held(*p1));
  CHECK(f.succeed(c) == Verdict::Delivered);  // a late success: nothing of 2 waits
  CHECK_FALSE(f.events.held(*p2));

  f.offer(3, 0);  // a record offered during the outage
  CHECK(f.events.held(*p3));
  std::vector<InFlightRecord*> withdrawn;
  f.destination.withdraw(p3.get(), withdrawn);
  CHECK(offsets_of(withdrawn) == std::vector<int64_t>{0});
  CHECK_FALSE(f.events.held(*p3));  // nothing of it waits any more
  CHECK(f.events.held(*p0));         // the others still wait
  CHECK(f.events.held(*p1));

  f.now += 60s;
  f.destination.wake(f.now);
  CHECK(f.destination.breaker().current_state() == BreakerState::HalfOpen);
  CHECK(f.events.held(*p0));  // half-open is not closed
  CHECK(f.events.held(*p1));
  InFlightRecord* probe = f.first_in_flight();
  REQUIRE(probe != nullptr);
  f.succeed(*probe);
  CHECK(f.destination.breaker().current_state() == BreakerState::Closed);
  // Resumed on closing, although offset 2 of partition 0 still waits behind its gate: that
  // wait is ordering, not the outage.
  CHECK(f.destination.queued() == 1);
  for (const auto& [partition, count] : f.events.holds) CHECK(count == 0);
  // Each partition was held once and given back once.
  auto calls_for = [&](PartitionState* partition) {
    std::vector<bool> calls;
    for (const auto& [held, what] : f.events.hold_calls) {
      if (held == partition) calls.push_back(what);
    }
    return calls;
  };
  for (auto* partition : {p0.get(), p1.get(), p3.get()}) CHECK(calls_for(partition) == std::vector<bool>{true, false});
  CHECK(calls_for(p2.get()).empty());
  f.deliver_all();
  CHECK(f.destination.queued() == 0);
}

TEST_CASE("destination: withdrawing a partition returns exactly its queued records, nothing in flight",
          "[engine][destination]") {
  SECTION("ordering partition") {
    DestinationFixture f(Ordering::Partition);
    InFlightRecord& in_flight = f.offer(0, 0);
    f.offer(0, 1);
    f.offer(0, 2);
    f.offer(1, 0);
    f.offer(1, 1);
    std::vector<InFlightRecord*> withdrawn;
    f.destination.withdraw(f.partition(0).get(), withdrawn);
    CHECK(offsets_of(withdrawn) == std::vector<int64_t>{1, 2});
    for (InFlightRecord* record : withdrawn) CHECK(record->partition == f.partition(0));
    CHECK(f.destination.queued() == 1);
    CHECK(f.destination.in_flight() == 2);
    // The one in flight still gets its result, and nothing of the partition follows it.
    CHECK(f.succeed(in_flight) == Verdict::Delivered);
    CHECK(f.sent_offsets_of(0) == std::vector<int64_t>{0});

    withdrawn.clear();
    f.destination.withdraw(nullptr, withdrawn);
    CHECK(offsets_of(withdrawn) == std::vector<int64_t>{1});
    CHECK(withdrawn[0]->partition == f.partition(1));
    CHECK(f.destination.queued() == 0);
  }
  SECTION("ordering none, partitions mixed in one gate") {
    DestinationFixture f(Ordering::None, 2);
    f.offer(0, 0);
    f.offer(1, 0);
    f.offer(0, 1);
    f.offer(1, 1);
    f.offer(0, 2);
    std::vector<InFlightRecord*> withdrawn;
    f.destination.withdraw(f.partition(0).get(), withdrawn);
    CHECK(offsets_of(withdrawn) == std::vector<int64_t>{1, 2});
    CHECK(f.destination.queued() == 1);
    f.deliver_all();
    CHECK(f.sent_offsets_of(0) == std::vector<int64_t>{0});
    CHECK(f.sent_offsets_of(1) == std::vector<int64_t>{0, 1});
  }
}

TEST_CASE("destination: a partition offered again after being withdrawn starts a fresh gate", "[engine][destination]") {
  // Revoked and assigned again: a new PartitionState, whose records must not wait behind the
  // old one's in-flight record.
  DestinationFixture f(Ordering::Partition);
  InFlightRecord& old = f.offer(0, 0);
  std::vector<InFlightRecord*> withdrawn;
  f.destination.withdraw(f.partition(0).get(), withdrawn);
  CHECK(withdrawn.empty());
  f.partitions[0] = std::make_shared<PartitionState>("inbound.email", 0);
  f.offer(0, 0);
  CHECK(f.sink->sent.size() == 2);
  CHECK(f.succeed(old) == Verdict::Delivered);
  CHECK(f.destination.in_flight() == 1);
}

TEST_CASE("destination: under ordering key, thousands of keys in flight go at once; a key's next record waits "
          "for its own only",
          "[engine][destination]") {
  DestinationFixture f(Ordering::Key);
  constexpr int kKeys = 5000;
  std::vector<InFlightRecord*> firsts;
  for (int i = 0; i < kKeys; ++i) firsts.push_back(&f.offer(i % 3, i, "key-" + std::to_string(i)));
  CHECK(f.destination.in_flight() == kKeys);
  // A second record of every seventh key waits for the first of its key.
  std::map<InFlightRecord*, InFlightRecord*> second_of;
  for (int i = 0; i < kKeys; i += 7) second_of[firsts[i]] = &f.offer(i % 3, kKeys + i, "key-" + std::to_string(i));
  CHECK(f.destination.queued() == second_of.size());
  // Answered in a shuffled order: each answer lets exactly its key's second record go.
  std::mt19937 random(7);
  std::shuffle(firsts.begin(), firsts.end(), random);
  for (InFlightRecord* first : firsts) {
    const size_t sends = f.sink->sent.size();
    f.succeed(*first);
    auto second = second_of.find(first);
    if (second == second_of.end()) {
      CHECK(f.sink->sent.size() == sends);
    } else {
      REQUIRE(f.sink->sent.size() == sends + 1);
      CHECK(f.sink->sent.back() == second->second);
    }
  }
  CHECK(f.destination.queued() == 0);
  f.deliver_all();
  CHECK(f.destination.in_flight() == 0);
}

TEST_CASE("destination: withdrawing a partition under ordering key returns its queued records and frees its gates",
          "[engine][destination]") {
  DestinationFixture f(Ordering::Key);
  InFlightRecord& a0 = f.offer(0, 0, "a");
  f.offer(0, 1, "a");
  f.offer(1, 0, "b");
  f.offer(1, 1, "b");
  std::vector<InFlightRecord*> out;
  f.destination.withdraw(f.partition(0).get(), out);
  CHECK(offsets_of(out) == std::vector<int64_t>{1});
  CHECK(f.destination.queued() == 1);
  // The record in flight still has its gate; its answer lets nothing of partition 0 go.
  f.succeed(a0);
  CHECK(f.sent_offsets_of(0) == std::vector<int64_t>{0});
  CHECK(f.deliver_all() == std::vector<int64_t>{0, 1});
  CHECK(f.sent_offsets_of(1) == std::vector<int64_t>{0, 1});
  out.clear();
  f.destination.withdraw(nullptr, out);
  CHECK(out.empty());
}
