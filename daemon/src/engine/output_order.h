#pragma once
// Exactly-once delivery: a record's outputs (forward, DLQ, rejected, retry tier) go into the
// open transaction only once every earlier record of its partition has either finished or
// has its own output in the transaction. A transaction commits the completed prefix of each
// partition with all of its outputs, so without this rule a record finished past a gap (an
// earlier record still waiting for dedup, a breaker or a peer) would have its outputs
// committed while its offset is not, and a crash, rebalance or fence would write them twice.
// With it, every output of a committed transaction comes from a record below the offset that
// transaction commits for its partition.
//
// Each partition keeps its records in offset order (PartitionState::output_order) from the
// first one not yet released. At-least-once delivery does not need the rule (outputs written
// twice after a crash are what it allows) and does not pay for it.
//
// Threading: engine thread only.

#include <vector>

#include "engine/in_flight_record.h"

namespace sluice::engine {

class OutputOrder {
 public:
  explicit OutputOrder(bool enabled) : enabled_(enabled) {}
  bool enabled() const { return enabled_; }

  // A record just consumed (called in offset order per partition).
  void track(InFlightRecord& record);
  // Whether `record` may produce an output now; if not, it is marked as waiting and handed
  // back by release() when its turn comes.
  bool may_produce(InFlightRecord& record);
  // `record` has an output in the transaction, or finished without one (call before the
  // record goes back to the pool): the record now first in its partition, if it waits for
  // its turn, is appended to `ready`.
  void release(InFlightRecord& record, std::vector<InFlightRecord*>& ready);
  // Drops a revoked (or rewound) partition's order; the records that were waiting for their
  // turn are appended to `waiting` (nothing else refers to them: the caller gives them up).
  void forget(PartitionState& partition, std::vector<InFlightRecord*>& waiting);

 private:
  const bool enabled_;
};

}  // namespace sluice::engine
