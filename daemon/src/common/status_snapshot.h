#pragma once
// What /status shows: the engine's state at one moment, as plain data. The engine thread
// builds it (once a second, and after each assignment change) and hands a copy over; the
// admin server renders it as JSON and `sluice status` reads that back. Nothing here points
// into the engine, so a snapshot may live on any thread.

#include <cstdint>
#include <string>
#include <vector>

namespace sluice {

struct PartitionStatus {
  std::string topic;
  int32_t partition = 0;
  int64_t committed = -1;       // the last committed offset; -1: none yet
  int64_t position = -1;        // one past the newest record consumed; -1: unknown
  int64_t high_watermark = -1;  // one past the newest record; -1: not known yet
  int64_t lag = -1;             // high watermark − committed offset (as the lag gauge); -1: unknown
  int64_t in_flight = 0;        // records not at a final outcome yet
  int64_t retry_held = 0;       // of those, retry-tier records held until due
  std::vector<std::string> paused_for;  // pause reasons; empty: consuming
};

struct DestinationStatus {
  std::string name;  // "topic:NAME" or "http:URL"
  std::string breaker;  // closed, open, half_open
  int64_t queued = 0;      // waiting to be sent
  int64_t waiting = 0;     // of those, held back by a breaker that is not closed
  int64_t in_flight = 0;   // sent, not answered yet
};

struct StatusSnapshot {
  int64_t taken_at_ms = 0;  // epoch ms; 0: no snapshot yet
  std::string group_id;
  std::string delivery;  // at_least_once or exactly_once
  bool in_group = false;
  bool brokers_reached = true;
  std::vector<PartitionStatus> partitions;
  std::vector<DestinationStatus> destinations;
  int64_t in_flight_records = 0;
  int64_t in_flight_bytes = 0;
  int64_t retry_held = 0;  // retry-tier records held until due, over every partition
  std::string dedup_backend;
  std::string dedup_state = "ok";  // a store that can tell it is failing will say so here
};

}  // namespace sluice
