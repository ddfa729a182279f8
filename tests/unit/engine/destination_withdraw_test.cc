// Taking a key's queued records out of their gate (retry.ordering: key takes a failed record's
// followers): only that key's, in order; and safely from inside a send, when a record the
// destination sends is refused at once and the engine takes its followers.

#include <catch2/catch.hpp>

#include <vector>

#include "destination_helpers.h"

using namespace sluice::engine;
using namespace sluice::engine::testing;
using sluice::config::Ordering;
using Verdict = Destination::Verdict;

namespace {

auto same_key(const InFlightRecord& of) {
  return [&of](const InFlightRecord& queued) { return queued.key() == of.key(); };
}

}  // namespace

TEST_CASE("destination: withdraw_matching takes the queued records of a failed record's key, in order; other keys "
          "stay",
          "[engine][destination]") {
  for (Ordering ordering : {Ordering::Key, Ordering::Partition}) {
    DestinationFixture fixture(ordering);
    InFlightRecord& head = fixture.offer(0, 1, "k");
    fixture.offer(0, 2, "k");
    fixture.offer(0, 3, "j");
    fixture.offer(0, 4, "k");
    // As the engine does: the result, then the failed record's followers taken, then pump().
    REQUIRE(fixture.destination.on_result(head, Destination::Result::Transient, fixture.now) == Verdict::Retry);
    head.set_step(Step::Retrying);
    std::vector<InFlightRecord*> taken;
    fixture.destination.withdraw_matching(head, same_key(head), taken);
    CHECK(offsets_of(taken) == std::vector<int64_t>{2, 4});
    fixture.destination.pump(fixture.now);
    CHECK(fixture.deliver_all() == std::vector<int64_t>{3});
    CHECK(fixture.destination.queued() == 0);
  }
}

TEST_CASE("destination: a refusal during a send may take the rest of the gate's queue", "[engine][destination]") {
  DestinationFixture fixture(Ordering::Key);
  InFlightRecord& first = fixture.offer(0, 1, "k");
  fixture.offer(0, 2, "k");
  fixture.offer(0, 3, "k");
  std::vector<InFlightRecord*> taken;
  fixture.events.refused_hook = [&](InFlightRecord& refused) {
    fixture.destination.withdraw_matching(refused, same_key(refused), taken);
  };
  fixture.sink->answers.push_back({SendStatus::Rejected, "too large"});
  // Delivering the first sends the second from inside pump(); it is refused at once and the
  // third is taken out of the gate pump() is working on.
  REQUIRE(fixture.succeed(first) == Verdict::Delivered);
  CHECK(fixture.events.refused.size() == 1);
  CHECK(offsets_of(taken) == std::vector<int64_t>{3});
  CHECK(fixture.destination.queued() == 0);
  CHECK(fixture.destination.in_flight() == 0);
  // The key's gate works as before: the next record goes at once.
  InFlightRecord& next = fixture.offer(0, 5, "k");
  CHECK(next.step() == sluice::engine::Step::Forwarding);
  CHECK(fixture.succeed(next) == Verdict::Delivered);
}
