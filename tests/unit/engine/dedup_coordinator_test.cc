// The dedup coordinator: identical records in flight wait for each other, a fingerprint is
// final only once its record was forwarded (with exactly-once, once its transaction
// committed), and a store that cannot answer pauses and backs off.

#include <catch2/catch.hpp>

#include <deque>
#include <memory>
#include <vector>

#include "engine/dedup_coordinator.h"
#include "kafka_helpers.h"
#include "metrics/metrics.h"

using namespace sluice::engine;
using namespace sluice::engine::testing;
using namespace std::chrono_literals;
using sluice::dedup::ReserveStatus;
using sluice::fingerprint::Fingerprint;
using Kind = DedupCoordinator::Answer::Kind;

namespace {

Fingerprint fingerprint_of(int content) {
  Fingerprint fingerprint;
  fingerprint.bytes[0] = static_cast<unsigned char>(content);
  fingerprint.bytes[31] = 0x5a;
  return fingerprint;
}

struct Fixture {
  explicit Fixture(bool forward_unchecked = false, bool confirm_at_commit = false)
      : coordinator(store, forward_unchecked, confirm_at_commit, metrics) {}

  InFlightRecord& record(int content, std::shared_ptr<PartitionState> of = nullptr) {
    InFlightRecord& record = records.emplace_back();
    record.partition = of ? of : partition;
    record.offset = static_cast<int64_t>(records.size());
    record.fingerprint = fingerprint_of(content);
    return record;
  }
  std::vector<DedupCoordinator::Answer> round() {
    std::vector<DedupCoordinator::Answer> answers;
    duplicates.clear();
    coordinator.run_round(answers, duplicates);
    return answers;
  }

  sluice::metrics::Metrics metrics;
  RecordingDedupStore store;
  DedupCoordinator coordinator;
  std::shared_ptr<PartitionState> partition = std::make_shared<PartitionState>("inbound.email", 0);
  std::deque<InFlightRecord> records;
  std::vector<InFlightRecord*> duplicates;
};

}  // namespace

TEST_CASE("dedup: an identical record waits behind the one in flight instead of asking the store",
          "[engine][dedup]") {
  Fixture f;
  InFlightRecord& first = f.record(1);
  InFlightRecord& copy = f.record(1);
  InFlightRecord& other = f.record(2);
  f.coordinator.enqueue(first);
  f.coordinator.enqueue(copy);
  f.coordinator.enqueue(other);
  CHECK(copy.step() == Step::WaitingOnPeer);
  CHECK(first.waiters == std::vector<InFlightRecord*>{&copy});

  auto answers = f.round();
  REQUIRE(f.store.reserved.size() == 1);
  CHECK(f.store.reserved[0] == std::vector<Fingerprint>{fingerprint_of(1), fingerprint_of(2)});
  REQUIRE(answers.size() == 2);
  CHECK(answers[0].record == &first);
  CHECK(answers[0].kind == Kind::Forward);
  CHECK(answers[1].record == &other);
  CHECK(first.holds_reservation);
}

TEST_CASE("dedup: once the owner is forwarded its waiters are duplicates and its fingerprint is confirmed",
          "[engine][dedup]") {
  Fixture f;
  InFlightRecord& first = f.record(1);
  InFlightRecord& copy1 = f.record(1);
  InFlightRecord& copy2 = f.record(1);
  for (InFlightRecord* record : {&first, &copy1, &copy2}) f.coordinator.enqueue(*record);
  f.round();
  std::vector<InFlightRecord*> duplicates;
  f.coordinator.forwarded(first, duplicates);
  CHECK(duplicates == std::vector<InFlightRecord*>{&copy1, &copy2});
  CHECK_FALSE(first.holds_reservation);
  CHECK(f.store.confirmed.empty());  // sent with the next round or flush
  f.coordinator.flush_updates();
  CHECK(f.store.confirmed == std::vector<Fingerprint>{fingerprint_of(1)});
  // The fingerprint is no longer in flight: the next copy asks the store.
  InFlightRecord& later = f.record(1);
  f.coordinator.enqueue(later);
  CHECK(later.step() == Step::Dedup);
  CHECK(f.coordinator.has_queued());
}

TEST_CASE("dedup: when the owner gives up, the first waiter takes over and revoked waiters are handed back",
          "[engine][dedup]") {
  Fixture f;
  auto revoked = std::make_shared<PartitionState>("inbound.email", 1);
  InFlightRecord& owner = f.record(1);
  InFlightRecord& gone = f.record(1, revoked);
  InFlightRecord& next = f.record(1);
  InFlightRecord& after = f.record(1);
  for (InFlightRecord* record : {&owner, &gone, &next, &after}) f.coordinator.enqueue(*record);
  f.round();
  revoked->revoked = true;

  std::vector<InFlightRecord*> abandoned;
  f.coordinator.give_up(owner, abandoned);
  CHECK(abandoned == std::vector<InFlightRecord*>{&gone});
  CHECK(owner.waiters.empty());
  // `next` asks the store itself now; `after` waits behind it.
  CHECK(next.step() == Step::Dedup);
  CHECK(after.step() == Step::WaitingOnPeer);
  CHECK(next.waiters == std::vector<InFlightRecord*>{&after});

  // The reservation is released before the successor reserves it again, in the same round.
  auto answers = f.round();
  CHECK(f.store.released == std::vector<Fingerprint>{fingerprint_of(1)});
  CHECK(f.store.calls == std::vector<std::string>{"reserve", "release", "reserve"});
  REQUIRE(answers.size() == 1);
  CHECK(answers[0].record == &next);
  CHECK(answers[0].kind == Kind::Forward);
}

TEST_CASE("dedup: a duplicate answer makes the waiters duplicates too", "[engine][dedup]") {
  Fixture f;
  InFlightRecord& first = f.record(1);
  InFlightRecord& copy = f.record(1);
  f.coordinator.enqueue(first);
  f.coordinator.enqueue(copy);
  f.store.answers = {ReserveStatus::Duplicate};
  auto answers = f.round();
  REQUIRE(answers.size() == 1);
  CHECK(answers[0].kind == Kind::Duplicate);
  CHECK(f.duplicates == std::vector<InFlightRecord*>{&copy});
  CHECK_FALSE(first.holds_reservation);
}

TEST_CASE("dedup: a fingerprint another instance holds is asked about again later", "[engine][dedup]") {
  Fixture f;
  InFlightRecord& record = f.record(1);
  f.coordinator.enqueue(record);
  f.store.answers = {ReserveStatus::Busy};
  auto answers = f.round();
  REQUIRE(answers.size() == 1);
  CHECK(answers[0].kind == Kind::Recheck);
  CHECK(answers[0].delay > 0ms);
  CHECK_FALSE(f.coordinator.down());  // busy is an answer: the store is up
  CHECK_FALSE(f.coordinator.has_queued());
  f.coordinator.recheck_due(record, true);
  CHECK(f.coordinator.has_queued());
  CHECK(f.round()[0].kind == Kind::Forward);
}

TEST_CASE("dedup: a store that cannot answer is asked again within 250 ms and counts as down until it answers",
          "[engine][dedup]") {
  Fixture f;
  InFlightRecord& record = f.record(1);
  f.coordinator.enqueue(record);
  std::vector<std::chrono::milliseconds> delays;
  for (int attempt = 0; attempt < 8; ++attempt) {
    f.store.answers = {ReserveStatus::Unavailable};
    auto answers = f.round();
    REQUIRE(answers.size() == 1);
    CHECK(answers[0].kind == Kind::Recheck);
    delays.push_back(answers[0].delay);
    CHECK(f.coordinator.down());
    // A record still scheduled to ask again finds out when the store is back.
    CHECK_FALSE(f.coordinator.nobody_left_to_ask());
    f.coordinator.recheck_due(record, true);
  }
  // Never the general backoff's 10 s: the store's own reconnection backoff (at most 5 s)
  // decides when the network is tried, and a reconnection is seen within 250 ms of it.
  CHECK(delays == std::vector<std::chrono::milliseconds>{100ms, 200ms, 250ms, 250ms, 250ms, 250ms, 250ms, 250ms});
  auto answers = f.round();
  CHECK(answers[0].kind == Kind::Forward);
  CHECK_FALSE(f.coordinator.down());
}

TEST_CASE("dedup: down with nobody left to ask counts as up once", "[engine][dedup]") {
  // Every waiting record was given up in a rebalance: no recheck would ever find out that the
  // store is back, so the engine must resume and let the next records ask.
  Fixture f;
  InFlightRecord& record = f.record(1);
  f.coordinator.enqueue(record);
  f.store.answers = {ReserveStatus::Unavailable};
  f.round();
  REQUIRE(f.coordinator.down());
  f.coordinator.recheck_due(record, false);  // its partition was revoked
  CHECK_FALSE(f.coordinator.has_queued());
  CHECK(f.coordinator.nobody_left_to_ask());
  CHECK_FALSE(f.coordinator.down());
  CHECK_FALSE(f.coordinator.nobody_left_to_ask());
}

TEST_CASE("dedup: forward_unchecked forwards what the store cannot answer for, and stays up", "[engine][dedup]") {
  Fixture f(true);
  InFlightRecord& record = f.record(1);
  f.coordinator.enqueue(record);
  f.store.answers = {ReserveStatus::Unavailable};
  auto answers = f.round();
  REQUIRE(answers.size() == 1);
  CHECK(answers[0].kind == Kind::Forward);
  CHECK_FALSE(record.holds_reservation);
  CHECK_FALSE(f.coordinator.down());
  // Nothing to confirm for a record that never reserved.
  std::vector<InFlightRecord*> duplicates;
  f.coordinator.forwarded(record, duplicates);
  f.coordinator.flush_updates();
  CHECK(f.store.confirmed.empty());
}

TEST_CASE("dedup: a record whose partition was revoked meanwhile is abandoned", "[engine][dedup]") {
  Fixture f;
  InFlightRecord& record = f.record(1);
  f.coordinator.enqueue(record);
  f.partition->revoked = true;
  auto answers = f.round();
  REQUIRE(answers.size() == 1);
  CHECK(answers[0].kind == Kind::Abandon);
  CHECK(record.holds_reservation);  // so the engine releases it when giving the record up
}

TEST_CASE("dedup: with exactly-once a forward is confirmed only when its transaction commits", "[engine][dedup]") {
  Fixture f(false, true);
  InFlightRecord& record = f.record(1);
  f.coordinator.enqueue(record);
  f.round();
  std::vector<InFlightRecord*> duplicates;
  f.coordinator.forwarded(record, duplicates);
  f.coordinator.flush_updates();
  f.round();
  CHECK(f.store.confirmed.empty());
  f.store.calls.clear();
  f.coordinator.transaction_committed();
  CHECK(f.store.confirmed == std::vector<Fingerprint>{fingerprint_of(1)});
  CHECK(f.store.calls == std::vector<std::string>{"confirm", "flush"});
  f.coordinator.transaction_committed();  // nothing new
  CHECK(f.store.confirmed.size() == 1);
}

TEST_CASE("dedup: with exactly-once an aborted transaction releases its forwards", "[engine][dedup]") {
  Fixture f(false, true);
  InFlightRecord& record = f.record(1);
  f.coordinator.enqueue(record);
  f.round();
  std::vector<InFlightRecord*> duplicates;
  f.coordinator.forwarded(record, duplicates);
  f.coordinator.transaction_aborted();
  f.coordinator.flush_updates();
  CHECK(f.store.released == std::vector<Fingerprint>{fingerprint_of(1)});
  CHECK(f.store.confirmed.empty());
  f.coordinator.transaction_committed();
  CHECK(f.store.confirmed.empty());  // the aborted forward is not confirmed later either
}

TEST_CASE("dedup: with exactly-once a record identical to one forwarded in the open transaction is a duplicate at "
          "once, until the transaction ends",
          "[engine][dedup]") {
  Fixture f(false, true);
  InFlightRecord& first = f.record(1);
  REQUIRE(f.coordinator.enqueue(first));
  f.round();
  std::vector<InFlightRecord*> duplicates;
  f.coordinator.forwarded(first, duplicates);
  // The store still only has it reserved (it would answer Busy): the coordinator answers.
  f.store.calls.clear();
  CHECK_FALSE(f.coordinator.enqueue(f.record(1)));
  CHECK(f.round().empty());
  CHECK(f.store.calls.empty());
  f.coordinator.transaction_committed();
  InFlightRecord& after_commit = f.record(1);
  CHECK(f.coordinator.enqueue(after_commit));  // now the store knows it
  CHECK(after_commit.step() == Step::Dedup);

  Fixture aborted(false, true);
  InFlightRecord& forwarded = aborted.record(2);
  aborted.coordinator.enqueue(forwarded);
  aborted.round();
  aborted.coordinator.forwarded(forwarded, duplicates);
  aborted.coordinator.transaction_aborted();
  CHECK(aborted.coordinator.enqueue(aborted.record(2)));  // forgotten with the transaction
}

TEST_CASE("dedup: backoff doubles from 100 ms up to 10 s", "[engine][dedup]") {
  CHECK(backoff(0) == 100ms);
  CHECK(backoff(1) == 100ms);
  CHECK(backoff(2) == 200ms);
  CHECK(backoff(7) == 6400ms);
  CHECK(backoff(8) == 10'000ms);
  CHECK(backoff(1000) == 10'000ms);
}
