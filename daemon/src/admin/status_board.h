#pragma once
// The /status snapshot between the engine thread, which publishes a fresh one about once a
// second and after each assignment change, and the admin server's thread, which reads a copy
// per request. A mutex guards the one copy; the engine never waits for a reader longer than
// a copy takes. Also the snapshot's JSON form, written here and read back by `sluice status`.
//
// JSON (GET /status):
//   {"taken_at": RFC 3339, "taken_at_ms": int, "group_id": str, "delivery": str,
//    "in_group": bool, "brokers_reached": bool,
//    "partitions": [{"topic", "partition", "committed", "position", "high_watermark", "lag",
//                    "in_flight", "retry_held", "paused_for": [reason...]}],
//    "destinations": [{"name", "breaker", "queued", "waiting", "in_flight"}],
//    "totals": {"assigned_partitions", "in_flight_records", "in_flight_bytes", "retry_held"},
//    "dedup": {"backend", "state"}}
// Offsets and lag that are not known yet are null.

#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/status_snapshot.h"

namespace sluice::admin {

class StatusBoard {
 public:
  // Engine thread.
  void publish(const StatusSnapshot& snapshot);
  // Any thread: a copy of the latest snapshot (taken_at_ms 0: none yet).
  StatusSnapshot read() const;

 private:
  mutable std::mutex mutex_;
  StatusSnapshot snapshot_;  // guarded by mutex_
};

std::string status_to_json(const StatusSnapshot& snapshot);
// nullopt (and `error` set) when `json` is not a status document.
std::optional<StatusSnapshot> status_from_json(std::string_view json, std::string& error);

}  // namespace sluice::admin
