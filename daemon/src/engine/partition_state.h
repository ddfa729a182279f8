#pragma once
// What the engine knows about one assigned input partition. Created on assignment, marked
// revoked (and dropped from the partition table) on revocation; records still in flight keep
// their shared_ptr, see that it is revoked, and then touch neither offsets nor pauses.
//
// Threading: engine thread only.

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>

#include "kafka/offset_tracker.h"

namespace prometheus {
class Counter;
}

namespace sluice::engine {

struct InFlightRecord;

// A consumed record's place in its partition's output order (exactly-once; see OutputOrder).
struct OutputTurn {
  int64_t offset = 0;
  InFlightRecord* record = nullptr;  // nullptr once released (the record may be gone)
};

// Why a partition is paused; it is resumed only when no reason is left.
enum PauseReason : uint32_t {
  kPauseBackpressure = 1u << 0,  // the in-flight record or byte budget is used up
  kPauseStopping = 1u << 1,      // draining for shutdown
  kPauseDedupDown = 1u << 2,     // the dedup store cannot answer
  kPauseRetryWait = 1u << 3,     // a retry-tier record at its head is not due yet
  kPauseOutage = 1u << 4,        // records of it wait for a destination whose breaker is not closed
  kPauseParkingScan = 1u << 5,   // retry.ordering: key — its tier partitions are being read first
};
// The reasons that hold every partition at once (a partition assigned meanwhile starts with them).
inline constexpr uint32_t kGlobalPauses = kPauseBackpressure | kPauseStopping | kPauseDedupDown;

struct PartitionState {
  PartitionState(std::string topic_name, int32_t partition_id) : topic(std::move(topic_name)), partition(partition_id) {}

  const std::string topic;
  const int32_t partition;
  // Set once at assignment, so that a consumed record needs no lookup by topic name.
  prometheus::Counter* consumed_counter = nullptr;
  int retry_tier = -1;  // the retry tier the topic is, or -1 for an input topic
  kafka::OffsetTracker offsets;
  bool revoked = false;
  uint32_t pause_reasons = 0;
  bool paused_in_client = false;  // what the consumer was last told
  int64_t in_flight = 0;          // records of this partition not yet at a final outcome
  int64_t awaiting_delivery = 0;  // of those, how many wait for a produce or request to be answered
  // Destinations whose breaker holds records of this partition back (kPauseOutage while > 0).
  int outage_holds = 0;
  // Records of a retry tier held until due, in offset order (owned by the engine's pool).
  std::deque<InFlightRecord*> held;
  bool release_scheduled = false;  // a timer will release the head of `held`
  // retry.ordering: key, a tier partition read to its end after assignment to rebuild the
  // parked keys (Engine::start_parking_scans): its records from scan_start up to scan_end only
  // join their keys; then it is read again from scan_start, and records at or past `stale_from`
  // fetched before that re-read are dropped. -1: none.
  int64_t scan_start = -1;
  // After an assignment the input partition is read again from its committed offset: a tier
  // record that was in the tier then (tier offset below spare_below) with an origin at or past
  // its input partition's spare_from is a spare copy of a record that comes again from there.
  int64_t spare_below = -1;        // a tier partition's end at assignment
  int64_t spare_from = INT64_MAX;  // an input partition's committed offset then (none: no spares)
  int64_t scan_end = -1;
  int64_t stale_from = -1;
  // Exactly-once: this partition's records in offset order from the first one not yet
  // released (see OutputOrder).
  std::deque<OutputTurn> output_order;
  // When a record of it last reached a final outcome (or when records started to wait).
  std::chrono::steady_clock::time_point last_progress = std::chrono::steady_clock::now();
  bool stalled = false;
  // As EngineProbe::observe() last saw them (for /status); -1: not known yet.
  int64_t high_watermark = -1;
  int64_t lag = -1;
};

}  // namespace sluice::engine
