#pragma once
// The retry tiers (`retry.tiers`): one topic per delay, consumed like the inbound topics. A
// record that failed transiently goes to the next tier with sluice-retry-count (failures so
// far), sluice-retry-due (when it may be tried again) and sluice-original-topic / -partition
// / -offset (where it first came from, kept through every tier). When it is read back it is
// held until due, then runs through the whole pipeline again.
//
// Those headers are trusted only on records read from a tier topic (an inbound record's own
// sluice-* headers were renamed on intake), and even there a due time is bounded from the
// moment the record is read: by the tier's delay, or — for a record sent there with a sink's
// Retry-After longer than that (sluice-retry-after) — by that Retry-After, at most an hour.
// A record written into a tier by someone else cannot hold its partition longer.
//
// Threading: engine thread only; the object is immutable after construction.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "engine/in_flight_record.h"

namespace sluice::engine {

// Where a record first came from (the DLQ envelope's original_*, the tiers' sluice-original-*).
struct Origin {
  std::string topic;  // a copy: header values go when the headers are taken for the output
  int32_t partition = 0;
  int64_t offset = 0;
};

class RetryTiers {
 public:
  explicit RetryTiers(const config::RetryConfig& config);

  size_t count() const { return topics_.size(); }
  const std::string& topic(size_t tier) const { return topics_[tier]; }
  const std::vector<std::string>& topics() const { return topics_; }
  std::chrono::milliseconds delay(size_t tier) const { return delays_[tier]; }
  // The tier `topic` is, or -1 for any other topic.
  int tier_of(std::string_view topic) const;

  // Reads a tier record's retry state into `record` (retry_count, retry_due_ms): the count
  // from its header (1..1000, 0..1000 for a parked record; the tier + 1 when absent), the due time from its header but no
  // later than `now_ms` + the hold the tier allows (hold_limit()).
  void read_retry_state(InFlightRecord& record, int tier, int64_t now_ms) const;

  // The tier a record goes to after its `retry_count`-th failure, nullopt when every tier was
  // used (retries exhausted).
  std::optional<size_t> next_tier(int retry_count) const;
  // How long a record sent to `tier` waits: the tier's delay, or the sink's Retry-After when
  // longer (honoured up to kMaxRetryAfter).
  std::chrono::milliseconds hold(size_t tier, std::optional<std::chrono::milliseconds> retry_after) const;
  // The longest a record read from `tier` may be held: the tier's delay, or the Retry-After
  // it was written with (its sluice-retry-after header) up to kMaxRetryAfter.
  std::chrono::milliseconds hold_limit(const InFlightRecord& record, size_t tier) const;

  // A sink's Retry-After is honoured up to this long.
  static constexpr std::chrono::milliseconds kMaxRetryAfter{3'600'000};

  // Where `record` first came from: a tier record's origin headers, its own place otherwise
  // (or when the headers are missing or malformed).
  Origin origin_of(const InFlightRecord& record) const { return origin_of(record.message, *record.partition); }
  // The same for a consumed message of `partition`.
  Origin origin_of(const kafka::Message& message, const PartitionState& partition) const;

 private:
  std::vector<std::string> topics_;
  std::vector<std::chrono::milliseconds> delays_;
  std::map<std::string, int, std::less<>> tier_of_topic_;
};

}  // namespace sluice::engine
