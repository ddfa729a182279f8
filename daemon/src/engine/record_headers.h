#pragma once
// The sluice-* headers: their names, building the headers of the records sluice produces from
// a consumed record, and what is done to sluice-* headers that come in from outside.

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "engine/in_flight_record.h"
#include "kafka/handles.h"
#include "kafka/message.h"

namespace sluice::engine {

namespace header {
// Every header sluice sets starts with it.
inline constexpr std::string_view kPrefix = "sluice-";
// What an inbound record's own sluice-* headers are renamed to start with (see
// rename_inbound_headers).
inline constexpr std::string_view kUpstreamPrefix = "upstream-";
inline constexpr const char* kFingerprint = "sluice-fingerprint";
inline constexpr const char* kSource = "sluice-source";
inline constexpr const char* kError = "sluice-error";
inline constexpr const char* kErrorStage = "sluice-error-stage";
inline constexpr const char* kFilterReason = "sluice-filter-reason";
inline constexpr const char* kRetryCount = "sluice-retry-count";
inline constexpr const char* kRetryDue = "sluice-retry-due";
// The sink's Retry-After (ms) a tier record was written with, when longer than its tier's delay.
inline constexpr const char* kRetryAfter = "sluice-retry-after";
inline constexpr const char* kOriginalTopic = "sluice-original-topic";
inline constexpr const char* kOriginalPartition = "sluice-original-partition";
inline constexpr const char* kOriginalOffset = "sluice-original-offset";
inline constexpr const char* kReplayCount = "sluice-replay-count";
// dlq.format: raw — the failure of a DLQ record that holds the original value, key and headers
// byte for byte (raw_dead_letter.h). kDlqFormat ("raw") is the marker `sluice replay` reads.
inline constexpr const char* kDlqFormat = "sluice-dlq-format";
inline constexpr std::string_view kDlqFormatRaw = "raw";
inline constexpr const char* kErrorDetail = "sluice-error-detail";
inline constexpr const char* kOriginalTimestamp = "sluice-original-timestamp";
inline constexpr const char* kFailedAt = "sluice-failed-at";
inline constexpr const char* kHttpStatus = "sluice-http-status";
inline constexpr const char* kHttpResponse = "sluice-http-response";
inline constexpr const char* kOriginalHeadersDropped = "sluice-original-headers-dropped";
// retry.ordering: key — a tier record parked behind an earlier record of its key: that record's
// offset in the input partition. A parked record keeps its retry count (uses no attempt).
inline constexpr const char* kParkedBehind = "sluice-parked-behind";
// How often a record was written to a tier (its tier records count 1, 2, ...): with
// retry.ordering: key an older copy of a record read again is told from its latest.
inline constexpr const char* kTierWrites = "sluice-tier-writes";
}  // namespace header

// A record read from an inbound topic carries sluice-* headers only if someone upstream set
// them: another sluice whose output this is, or a forger who wants sluice to misreport a
// record's origin or hold a partition. Either way they are not this instance's: each is
// renamed to upstream-sluice-… (value and order kept), so nothing sluice reads or writes
// later takes them for its own. sluice-replay-count stays: `sluice replay` sets it on the
// records it re-drives into inbound topics, and it only counts replays (`replayed`, when
// given, tells whether the record has one: the same pass looks). Returns whether anything was
// renamed.
bool rename_inbound_headers(kafka::Message& message, bool* replayed = nullptr);

// `message`'s headers (empty when it has none) with every header named in `set` replaced by
// the given value and every header named in `remove` removed.
kafka::HeadersPtr derive_headers(kafka::Message& message,
                                 std::initializer_list<std::pair<const char*, std::string_view>> set,
                                 std::initializer_list<const char*> remove = {});

// The bytes `headers` take in a produced record: each name and value plus a generous allowance
// for its framing (thousands of small headers would overrun a fixed allowance). `count`, when
// given, receives how many there are.
size_t header_wire_bytes(const rd_kafka_headers_t* headers, size_t* count = nullptr);
// The same for one header.
size_t header_wire_bytes(std::string_view name, size_t value_size);

// Appends where `record` was consumed, "topic/partition/offset" (sluice-source,
// X-Sluice-Source), to `out`.
void append_source(std::string& out, const InFlightRecord& record);

// Builds the headers of a record forwarded to a topic: its own, with sluice-fingerprint and
// sluice-source set, and without sluice-error / sluice-error-stage (a record from a retry tier
// keeps its retry headers but, delivered, no longer carries an error). Keeps its buffers
// between calls; one builder per thread.
class ForwardHeaders {
 public:
  kafka::HeadersPtr build(InFlightRecord& record);

 private:
  std::string fingerprint_hex_;
  std::string source_;
};

}  // namespace sluice::engine
