#pragma once
// Builds the headers of records sluice produces from a consumed record: the original headers
// (always kept), minus any stale copies of the sluice-* headers being set, plus those.

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "engine/in_flight_record.h"
#include "kafka/handles.h"

namespace sluice::engine {

namespace header {
// Every header sluice sets starts with it.
inline constexpr std::string_view kPrefix = "sluice-";
inline constexpr const char* kFingerprint = "sluice-fingerprint";
inline constexpr const char* kSource = "sluice-source";
inline constexpr const char* kError = "sluice-error";
inline constexpr const char* kErrorStage = "sluice-error-stage";
inline constexpr const char* kFilterReason = "sluice-filter-reason";
inline constexpr const char* kRetryCount = "sluice-retry-count";
inline constexpr const char* kRetryDue = "sluice-retry-due";
inline constexpr const char* kOriginalTopic = "sluice-original-topic";
inline constexpr const char* kOriginalPartition = "sluice-original-partition";
inline constexpr const char* kOriginalOffset = "sluice-original-offset";
inline constexpr const char* kReplayCount = "sluice-replay-count";
}  // namespace header

// `message`'s headers (empty when it has none) with every header named in `set` replaced by
// the given value. The list librdkafka parsed for the message is taken rather than copied:
// copying and then destroying it was a tenth of the engine thread. Taking it is invisible to
// readers: librdkafka parses the record's bytes again if the headers are asked for later (a
// failed delivery going to a retry tier or the DLQ).
kafka::HeadersPtr derive_headers(rd_kafka_message_t& message,
                                 std::initializer_list<std::pair<const char*, std::string_view>> set,
                                 std::initializer_list<const char*> remove = {});

// The value of the last header named `name`, if the record has one.
std::optional<std::string_view> last_header(const rd_kafka_message_t& message, const char* name);

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
