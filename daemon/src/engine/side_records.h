#pragma once
// The records sluice writes about a record rather than for it: the retry-tier record, the
// copy for pipeline.filter.rejected_topic, and the DLQ record. Pure builders: they read the
// consumed record and its state and fill an OutboundRecord; producing it is the engine's.
//
// Threading: whichever thread owns the record (the engine thread).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "config/config.h"
#include "engine/in_flight_record.h"
#include "engine/retry_tiers.h"
#include "kafka/producer_api.h"

namespace sluice::engine {

// The record for a retry tier: value, key and headers unchanged, plus the retry headers
// (sluice-retry-after only when the hold is longer than the tier's delay). A record parked
// behind an earlier one of its key (record.parked_behind ≥ 0) keeps its retry count and carries
// sluice-parked-behind.
kafka::OutboundRecord build_retry_record(InFlightRecord& record, const std::string& tier_topic, int64_t due_ms,
                                         std::optional<std::chrono::milliseconds> longer_hold, const Origin& origin);

// The copy of a filtered record for the rejected topic, with its filter reason and source.
kafka::OutboundRecord build_rejected_record(InFlightRecord& record, const std::string& topic);

struct DeadLetterRecord {
  kafka::OutboundRecord out;  // its value points into `envelope`, or (raw) into the record's value
  std::string envelope;       // empty for a raw record
  DeadLetterLevel level = DeadLetterLevel::Full;  // what the record turned out to hold
  bool raw = false;  // built by build_raw_dead_letter_record (raw_dead_letter.h)
};

struct DeadLetterSettings {
  std::string topic;
  int64_t max_message_bytes = 1'000'000;  // the producer's message.max.bytes
  config::DlqFormat format = config::DlqFormat::Envelope;
};

// The DLQ record at `record.dead_letter_level` or lower (a fuller one that would not fit the
// producer's limit is not built). Envelope format: key and headers the original's (those that
// fit), plus sluice-error and sluice-error-stage, and the JSON envelope (dead_letter_envelope.h).
// Raw format: the original record with the failure in headers (raw_dead_letter.h); at Minimal,
// or when the value and key alone are past the limit, the minimal envelope instead.
void build_dead_letter_record(InFlightRecord& record, const DeadLetterSettings& settings, const Origin& origin,
                              std::chrono::system_clock::time_point failed_at, DeadLetterRecord& into);

}  // namespace sluice::engine
