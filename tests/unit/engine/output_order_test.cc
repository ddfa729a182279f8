// Exactly-once output order: a record may produce only once every earlier record of its
// partition is released (has its output in the transaction, or finished without one).

#include <catch2/catch.hpp>

#include <deque>
#include <memory>
#include <vector>

#include "engine/output_order.h"

using namespace sluice::engine;

namespace {

struct Fixture {
  OutputOrder order{true};
  std::shared_ptr<PartitionState> partition = std::make_shared<PartitionState>("inbound.email", 0);
  RecordPool pool;

  InFlightRecord& consume(int64_t offset, const std::shared_ptr<PartitionState>& of = nullptr) {
    InFlightRecord* record = pool.acquire();
    record->partition = of ? of : partition;
    record->offset = offset;
    order.track(*record);
    return *record;
  }
  std::vector<InFlightRecord*> release(InFlightRecord& record) {
    std::vector<InFlightRecord*> ready;
    order.release(record, ready);
    return ready;
  }
};

}  // namespace

TEST_CASE("output order: only the first unreleased record of a partition may produce", "[engine][output_order]") {
  Fixture f;
  InFlightRecord& r0 = f.consume(0);
  InFlightRecord& r1 = f.consume(1);
  InFlightRecord& r2 = f.consume(2);
  CHECK_FALSE(f.order.may_produce(r2));
  CHECK(r2.waiting_for_turn);
  CHECK_FALSE(f.order.may_produce(r1));
  CHECK(f.order.may_produce(r0));
  CHECK_FALSE(r0.waiting_for_turn);

  // r0's output is in the transaction: r1, which waits, is handed back; r2 still waits.
  CHECK(f.release(r0) == std::vector<InFlightRecord*>{&r1});
  CHECK_FALSE(r1.waiting_for_turn);
  CHECK(f.order.may_produce(r1));
  CHECK_FALSE(f.order.may_produce(r2));
  CHECK(f.release(r1) == std::vector<InFlightRecord*>{&r2});
  CHECK(f.order.may_produce(r2));
}

TEST_CASE("output order: a record whose turn comes but which does not wait is not handed back",
          "[engine][output_order]") {
  // Readiness is not release: a record still in its stages or at its destination when its
  // turn comes asks may_produce() later and gets yes then.
  Fixture f;
  InFlightRecord& r0 = f.consume(0);
  InFlightRecord& r1 = f.consume(1);
  CHECK(f.release(r0).empty());
  CHECK(f.order.may_produce(r1));
}

TEST_CASE("output order: records released out of order move the turn past all of them", "[engine][output_order]") {
  // Records finished without an output (filtered, duplicates) are released whenever they
  // finish; the turn then skips them once everything before them is released.
  Fixture f;
  InFlightRecord& r0 = f.consume(0);
  InFlightRecord& r1 = f.consume(1);
  InFlightRecord& r2 = f.consume(2);
  InFlightRecord& r3 = f.consume(3);
  CHECK_FALSE(f.order.may_produce(r3));
  CHECK(f.release(r2).empty());
  CHECK(f.release(r1).empty());
  CHECK_FALSE(f.order.may_produce(r3));  // r0 still holds the turn
  CHECK(f.release(r0) == std::vector<InFlightRecord*>{&r3});
  CHECK(f.partition->output_order.size() == 1);
  CHECK(f.partition->output_order.front().offset == 3);
}

TEST_CASE("output order: partitions do not wait for each other", "[engine][output_order]") {
  Fixture f;
  auto other = std::make_shared<PartitionState>("inbound.email", 1);
  f.consume(0);
  InFlightRecord& elsewhere = f.consume(7, other);
  CHECK(f.order.may_produce(elsewhere));
}

TEST_CASE("output order: offsets with gaps (compaction) are found by search", "[engine][output_order]") {
  Fixture f;
  InFlightRecord& r0 = f.consume(0);
  InFlightRecord& r5 = f.consume(5);
  InFlightRecord& r9 = f.consume(9);
  InFlightRecord& r12 = f.consume(12);
  CHECK_FALSE(f.order.may_produce(r12));
  CHECK(f.release(r9).empty());  // at index 2, not at its distance 9 from the front
  CHECK(f.release(r5).empty());
  CHECK(f.release(r0) == std::vector<InFlightRecord*>{&r12});
}

TEST_CASE("output order: a released record's pool slot reused for a later record does not take its old turn",
          "[engine][output_order]") {
  // r1 finishes first and goes back to the pool; its slot becomes the record at offset 3.
  // The released turn at offset 1 must not be taken for the new record's: it may produce
  // only when 0 and 2 are released.
  Fixture f;
  InFlightRecord& r0 = f.consume(0);
  InFlightRecord& r1 = f.consume(1);
  InFlightRecord& r2 = f.consume(2);
  CHECK(f.release(r1).empty());
  InFlightRecord* const slot = &r1;
  f.pool.release(&r1);
  InFlightRecord& r3 = f.consume(3);
  REQUIRE(&r3 == slot);  // the same address, a different record

  CHECK_FALSE(f.order.may_produce(r3));
  CHECK(f.release(r0).empty());  // r2's turn now; r3 waits behind it
  CHECK_FALSE(f.order.may_produce(r3));
  CHECK(r3.waiting_for_turn);
  CHECK(f.release(r2) == std::vector<InFlightRecord*>{&r3});
  CHECK(f.order.may_produce(r3));
}

TEST_CASE("output order: forget hands back exactly the records waiting for their turn", "[engine][output_order]") {
  Fixture f;
  InFlightRecord& r0 = f.consume(0);
  InFlightRecord& r1 = f.consume(1);
  InFlightRecord& r2 = f.consume(2);
  f.consume(3);  // not asking yet (e.g. in its stages)
  CHECK(f.order.may_produce(r0));
  CHECK_FALSE(f.order.may_produce(r1));
  CHECK_FALSE(f.order.may_produce(r2));
  std::vector<InFlightRecord*> waiting;
  f.order.forget(*f.partition, waiting);
  CHECK(waiting == std::vector<InFlightRecord*>{&r1, &r2});
  CHECK_FALSE(r1.waiting_for_turn);
  CHECK(f.partition->output_order.empty());
  // A record of the forgotten order that finishes afterwards changes nothing.
  CHECK(f.release(r0).empty());
}

TEST_CASE("output order: a stale release after a rewind does not release the new record at that offset",
          "[engine][output_order]") {
  // After a rewind the partition's order is forgotten and it is read again from its
  // committed offset: the new record at offset 0 is a different one. The old record's late
  // release must not count for it.
  Fixture f;
  InFlightRecord& old0 = f.consume(0);
  std::vector<InFlightRecord*> waiting;
  f.order.forget(*f.partition, waiting);
  InFlightRecord& new0 = f.consume(0);
  InFlightRecord& new1 = f.consume(1);
  CHECK_FALSE(f.order.may_produce(new1));
  CHECK(f.release(old0).empty());
  CHECK(f.partition->output_order.size() == 2);
  CHECK_FALSE(f.order.may_produce(new1));
  CHECK(f.release(new0) == std::vector<InFlightRecord*>{&new1});
}

TEST_CASE("output order: releasing twice is harmless", "[engine][output_order]") {
  Fixture f;
  InFlightRecord& r0 = f.consume(0);
  InFlightRecord& r1 = f.consume(1);
  InFlightRecord& r2 = f.consume(2);
  CHECK_FALSE(f.order.may_produce(r2));
  CHECK(f.release(r1).empty());
  CHECK(f.release(r1).empty());
  CHECK(f.partition->output_order.size() == 3);  // r0 still first
  CHECK(f.release(r0) == std::vector<InFlightRecord*>{&r2});
}

TEST_CASE("output order: at-least-once does not order outputs", "[engine][output_order]") {
  OutputOrder order(false);
  auto partition = std::make_shared<PartitionState>("inbound.email", 0);
  InFlightRecord r0;
  InFlightRecord r1;
  r0.partition = r1.partition = partition;
  r0.offset = 0;
  r1.offset = 1;
  order.track(r0);
  order.track(r1);
  CHECK(order.may_produce(r1));
  CHECK(partition->output_order.empty());
  std::vector<InFlightRecord*> ready;
  order.release(r1, ready);
  CHECK(ready.empty());
}
