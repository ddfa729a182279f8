// The ledger of records by step: counts that follow every move and release, and the time
// spent in each step summed over the records that left it.

#include <catch2/catch.hpp>

#include "engine/in_flight_record.h"
#include "engine/step_ledger.h"

using namespace sluice::engine;
using namespace std::chrono_literals;

namespace {

struct Ledgered {
  StepLedger::TimePoint now = StepLedger::TimePoint{} + 1h;  // the engine's cached clock
  StepLedger ledger{now};
  RecordPool pool{&ledger};

  int64_t total_in() const {
    int64_t total = 0;
    for (size_t i = 0; i < kStepCount; ++i) total += ledger.in(static_cast<Step>(i));
    return total;
  }
};

}  // namespace

TEST_CASE("step ledger: a record counts in exactly the step it is in, and in none once released",
          "[engine][steps]") {
  Ledgered world;
  InFlightRecord* record = world.pool.acquire();
  CHECK(world.total_in() == 0);  // taken, not yet in a step
  record->set_step(Step::Staging);
  CHECK(world.ledger.in(Step::Staging) == 1);
  record->set_step(Step::Dedup);
  record->set_step(Step::Queued);
  record->set_step(Step::Forwarding);
  CHECK(world.ledger.in(Step::Staging) == 0);
  CHECK(world.ledger.in(Step::Dedup) == 0);
  CHECK(world.ledger.in(Step::Forwarding) == 1);
  CHECK(world.total_in() == 1);
  record->set_step(Step::Forwarding);  // the same step again: still one record in it
  CHECK(world.ledger.in(Step::Forwarding) == 1);
  world.pool.release(record);
  CHECK(world.total_in() == 0);

  // Reused from the pool: it starts outside every step again, whatever step it ended in.
  InFlightRecord* again = world.pool.acquire();
  REQUIRE(again == record);
  CHECK(world.total_in() == 0);
  again->set_step(Step::Held);
  CHECK(world.ledger.in(Step::Held) == 1);
  CHECK(world.ledger.in(Step::Forwarding) == 0);
  world.pool.release(again);
  CHECK(world.total_in() == 0);
  // A record released before it entered any step leaves nothing behind.
  world.pool.release(world.pool.acquire());
  CHECK(world.total_in() == 0);
  std::array<StepLedger::Left, kStepCount> left = world.ledger.take_left();
  CHECK(left[static_cast<size_t>(Step::Forwarding)].records == 2);  // the move to itself and the release
  CHECK(left[static_cast<size_t>(Step::Held)].records == 1);
}

TEST_CASE("step ledger: the time in a step is summed over the records that left it, and taken once",
          "[engine][steps]") {
  Ledgered world;
  InFlightRecord* a = world.pool.acquire();
  InFlightRecord* b = world.pool.acquire();
  a->set_step(Step::Dedup);
  world.now += 10ms;
  b->set_step(Step::Dedup);
  world.now += 30ms;
  a->set_step(Step::Forwarding);  // 40 ms in dedup
  world.now += 5ms;
  b->set_step(Step::Forwarding);  // 35 ms in dedup
  world.now += 100ms;
  world.pool.release(a);  // 105 ms forwarding

  std::array<StepLedger::Left, kStepCount> left = world.ledger.take_left();
  const StepLedger::Left& dedup = left[static_cast<size_t>(Step::Dedup)];
  const StepLedger::Left& forwarding = left[static_cast<size_t>(Step::Forwarding)];
  CHECK(dedup.records == 2);
  CHECK(dedup.time == 75ms);
  CHECK(forwarding.records == 1);
  CHECK(forwarding.time == 105ms);  // b is still in it: its time counts when it leaves
  CHECK(world.ledger.in(Step::Forwarding) == 1);

  // Taken: the next take has only what left since.
  world.now += 1s;
  world.pool.release(b);
  left = world.ledger.take_left();
  CHECK(left[static_cast<size_t>(Step::Dedup)].records == 0);
  CHECK(left[static_cast<size_t>(Step::Dedup)].time == 0ms);
  CHECK(left[static_cast<size_t>(Step::Forwarding)].records == 1);
  CHECK(left[static_cast<size_t>(Step::Forwarding)].time == 1100ms);
  CHECK(world.total_in() == 0);
}

TEST_CASE("step ledger: many records moving in any order never leave the counts off", "[engine][steps]") {
  Ledgered world;
  std::vector<InFlightRecord*> live;
  int64_t entered = 0;
  int64_t left_total = 0;
  // A fixed pseudo-random walk: records taken, moved to any step, released.
  uint32_t state = 12345;
  auto next = [&] { return state = state * 1103515245u + 12345u, (state >> 16) & 0x7fff; };
  for (int round = 0; round < 5000; ++round) {
    world.now += 1ms;
    const uint32_t action = next() % 4;
    if (action == 0 || live.empty()) {
      live.push_back(world.pool.acquire());
      live.back()->set_step(static_cast<Step>(next() % kStepCount));
      entered += 1;
    } else if (action == 1) {
      const size_t which = next() % live.size();
      world.pool.release(live[which]);
      live.erase(live.begin() + static_cast<std::ptrdiff_t>(which));
    } else {
      live[next() % live.size()]->set_step(static_cast<Step>(next() % kStepCount));
      entered += 1;
    }
    if (round % 100 == 0) {
      for (const StepLedger::Left& step : world.ledger.take_left()) left_total += step.records;
    }
    REQUIRE(world.total_in() == static_cast<int64_t>(live.size()));
  }
  for (InFlightRecord* record : live) world.pool.release(record);
  for (const StepLedger::Left& step : world.ledger.take_left()) left_total += step.records;
  CHECK(world.total_in() == 0);
  CHECK(left_total == entered);  // every entry into a step was followed by one leave
}

TEST_CASE("step ledger: the step names are the metric's label values", "[engine][steps]") {
  CHECK(step_name(Step::Staging) == "staging");
  CHECK(step_name(Step::WaitingOnPeer) == "waiting_on_peer");
  CHECK(step_name(Step::Forwarding) == "forwarding");
  CHECK(step_name(Step::DeadLettering) == "dead_lettering");
  CHECK(step_name(Step::Rejecting) == "rejecting");
}
