#pragma once
// dlq.format: raw — a DLQ record that is the original record byte for byte (its value, a
// tombstone staying one, its key and its headers), with the failure told in headers:
//
//   sluice-dlq-format           raw: the marker `sluice replay` tells the format by
//   sluice-error                the reason (too_large, invalid_json, schema_violation, ...)
//   sluice-error-stage          the stage that gave it up
//   sluice-error-detail         what exactly was wrong (left out first when space is short)
//   sluice-original-topic, sluice-original-partition, sluice-original-offset
//   sluice-original-timestamp   ms since the epoch, when the record had a timestamp
//   sluice-failed-at            RFC 3339 UTC
//   sluice-retry-count          attempts made through the retry tiers
//   sluice-http-status, sluice-http-response
//                               an HTTP route's last answer (a refusal or the last failed
//                               attempt): its status and the first 1 KiB of its body (the body
//                               left out with the detail when space is short)
//   sluice-original-headers-dropped
//                               only when the original headers had to be left out: how many
//
// These are authoritative: a header of the same name the record carried is replaced, never
// duplicated. (An inbound record cannot carry one: intake renames sluice-* headers to
// upstream-sluice-*, so nothing from outside can steer a replay.) The headers that describe a
// retry-tier hold or a delivery (sluice-retry-due, -retry-after, -tier-writes, -parked-behind,
// -fingerprint, -source) are left out; sluice-replay-count stays, for the replay loop guard.
//
// Size: value and key are never cut — the value fit a broker once. When the record would be
// larger than the producer's message.max.bytes, what gives, in order: sluice-error-detail and
// sluice-http-response (the level stays Full: the original is whole); then the original headers
// (level Truncated). When even value, key and the remaining context are past the limit there is
// no raw record, and the caller writes the minimal envelope instead (side_records.h).
//
// Threading: the engine thread builds; `sluice replay` decodes.

#include <chrono>
#include <optional>
#include <string_view>

#include <librdkafka/rdkafka.h>

#include "engine/dead_letter_envelope.h"
#include "engine/side_records.h"

namespace sluice::engine {

// The raw DLQ record at `record.dead_letter_level` (Full or Truncated) or lower. Returns false,
// building nothing, when no raw record fits the limit.
bool build_raw_dead_letter_record(InFlightRecord& record, const DeadLetterSettings& settings, const Origin& origin,
                                  std::chrono::system_clock::time_point failed_at, DeadLetterRecord& into);

// A DLQ record of either format, for `sluice replay`: raw when the last sluice-dlq-format header
// says so (the value is then the original, nullopt a tombstone), else the envelope in its value.
DecodedEnvelope decode_dead_letter_record(std::optional<std::string_view> value, const rd_kafka_headers_t* headers);

// Removes every header the raw format sets (the list above) from `headers`.
void remove_dead_letter_context(rd_kafka_headers_t* headers);

}  // namespace sluice::engine
