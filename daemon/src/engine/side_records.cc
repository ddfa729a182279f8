#include "engine/side_records.h"

#include <algorithm>

#include "common/outcome.h"
#include "engine/dead_letter_envelope.h"
#include "engine/raw_dead_letter.h"
#include "engine/record_headers.h"

namespace sluice::engine {
namespace {

// A truncated DLQ envelope embeds at most this much of the value and of the key (base64).
constexpr size_t kTruncatedEmbedBytes = 64 * 1024;
// A minimal DLQ record keeps the original key as its own only up to this size.
constexpr size_t kMinimalKeyBytes = 256;
// Room for the record's framing and sluice's own headers.
constexpr int64_t kFramingBytes = 4096;

// The record's value and key, to be produced to `topic` with headers of its own.
kafka::OutboundRecord copy_of(InFlightRecord& record, const std::string& topic) {
  kafka::OutboundRecord out;
  out.topic = topic;
  out.key = record.message.key_data();
  out.key_size = record.message.key_size();
  out.value = record.value();
  out.null_value = record.value_is_null();
  out.opaque = &record;
  return out;
}

}  // namespace

kafka::OutboundRecord build_retry_record(InFlightRecord& record, const std::string& tier_topic, int64_t due_ms,
                                         std::optional<std::chrono::milliseconds> longer_hold, const Origin& origin) {
  const bool parked = record.parked_behind >= 0;
  const std::string count = std::to_string(parked ? record.retry_count : record.retry_count + 1);
  const std::string due = std::to_string(due_ms);
  const std::string writes = std::to_string(record.tier_writes + 1);
  const std::string partition = std::to_string(origin.partition);
  const std::string offset = std::to_string(origin.offset);
  kafka::OutboundRecord out = copy_of(record, tier_topic);
  out.headers = derive_headers(record.message,
                               {{header::kRetryCount, count},
                                {header::kRetryDue, due},
                                {header::kTierWrites, writes},
                                {header::kOriginalTopic, origin.topic},
                                {header::kOriginalPartition, partition},
                                {header::kOriginalOffset, offset},
                                {header::kError, record.last_error}},
                               {header::kErrorStage, header::kFingerprint, header::kSource, header::kRetryAfter,
                                header::kParkedBehind});
  if (parked) {
    const std::string behind = std::to_string(record.parked_behind);
    rd_kafka_header_add(out.headers.get(), header::kParkedBehind, -1, behind.data(), static_cast<ssize_t>(behind.size()));
  }
  if (longer_hold) {
    const std::string hold = std::to_string(longer_hold->count());
    rd_kafka_header_add(out.headers.get(), header::kRetryAfter, -1, hold.data(), static_cast<ssize_t>(hold.size()));
  }
  return out;
}

kafka::OutboundRecord build_rejected_record(InFlightRecord& record, const std::string& topic) {
  std::string source;
  append_source(source, record);
  kafka::OutboundRecord out = copy_of(record, topic);
  out.headers = derive_headers(record.message, {{header::kFilterReason, reason_label(record.reason)}, {header::kSource, source}});
  return out;
}

namespace {

// What a minimal envelope keeps of the error detail. A detail can quote the record (a schema
// violation names the path, with the record's own keys), and the minimal envelope's size must
// not depend on the record: were it too large it would be refused for ever.
constexpr size_t kMinimalDetailBytes = 1024;

// The first `max` bytes of `text` at most, not cutting a UTF-8 sequence.
std::string_view utf8_prefix(std::string_view text, size_t max) {
  if (text.size() <= max) return text;
  size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end);
}

// The envelope-format DLQ record at `level` or lower.
void build_envelope_record(InFlightRecord& record, const DeadLetterSettings& settings, const Origin& origin,
                           std::chrono::system_clock::time_point failed_at, DeadLetterLevel level,
                           DeadLetterRecord& into) {
  const kafka::Message& message = record.message;
  DeadLetterInfo info;
  info.value = record.value();
  info.value_is_null = record.value_is_null();
  info.key = message.key_data();
  info.key_size = message.key_size();
  info.topic = origin.topic;
  info.partition = origin.partition;
  info.offset = origin.offset;
  info.retry_count = record.retry_count;
  info.max_retries_exceeded = record.reason == Reason::RetriesExhausted;
  info.http_status = record.http_status;
  info.response_body = record.response_excerpt;
  info.timestamp_ms = record.timestamp_ms;
  info.error = reason_label(record.reason);
  info.error_stage = record.stage;
  info.error_detail = record.detail;
  info.failed_at = failed_at;

  const int64_t limit = settings.max_message_bytes;
  size_t header_count = 0;
  const size_t original_header_bytes = header_wire_bytes(message.headers(), &header_count);
  bool keep_key = true;
  bool keep_headers = true;
  while (true) {
    info.embed_limit = std::numeric_limits<size_t>::max();
    info.key_embed_limit = std::numeric_limits<size_t>::max();
    info.headers_dropped = 0;
    keep_key = true;
    keep_headers = true;
    if (level == DeadLetterLevel::Truncated) {
      info.embed_limit = std::min<size_t>(kTruncatedEmbedBytes, static_cast<size_t>(std::max<int64_t>(limit / 4, 0)));
      info.key_embed_limit = std::min<size_t>(kTruncatedEmbedBytes, static_cast<size_t>(std::max<int64_t>(limit / 8, 0)));
      keep_key = message.key_size() <= info.key_embed_limit;
      keep_headers = static_cast<int64_t>(original_header_bytes) <= limit / 8;
    } else if (level == DeadLetterLevel::Minimal) {
      info.embed_limit = 0;
      info.key_embed_limit = 0;
      keep_key = message.key_size() <= kMinimalKeyBytes;
      keep_headers = false;
      info.error_detail = utf8_prefix(record.detail, kMinimalDetailBytes);
    }
    if (!keep_headers) info.headers_dropped = header_count;
    into.envelope = build_dead_letter_envelope(info);
    const int64_t size = static_cast<int64_t>(into.envelope.size()) +
                         (keep_key ? static_cast<int64_t>(message.key_size()) : 0) +
                         (keep_headers ? static_cast<int64_t>(original_header_bytes) : 0) + kFramingBytes;
    if (size <= limit || level == DeadLetterLevel::Minimal) break;
    level = level == DeadLetterLevel::Full ? DeadLetterLevel::Truncated : DeadLetterLevel::Minimal;
  }
  into.level = level;
  into.raw = false;
  into.out = {};
  into.out.topic = settings.topic;
  if (keep_key) {
    into.out.key = message.key_data();
    into.out.key_size = message.key_size();
  }
  into.out.value = into.envelope;
  if (keep_headers) {
    into.out.headers = derive_headers(record.message, {{header::kError, reason_label(record.reason)}, {header::kErrorStage, record.stage}},
                                      {header::kFingerprint, header::kSource, header::kRetryDue});
  } else {
    into.out.headers.reset(rd_kafka_headers_new(2));
    const std::string_view reason = reason_label(record.reason);
    rd_kafka_header_add(into.out.headers.get(), header::kError, -1, reason.data(), static_cast<ssize_t>(reason.size()));
    rd_kafka_header_add(into.out.headers.get(), header::kErrorStage, -1, record.stage.data(),
                        static_cast<ssize_t>(record.stage.size()));
  }
  into.out.opaque = &record;
}

}  // namespace

void build_dead_letter_record(InFlightRecord& record, const DeadLetterSettings& settings, const Origin& origin,
                              std::chrono::system_clock::time_point failed_at, DeadLetterRecord& into) {
  if (settings.format == config::DlqFormat::Raw) {
    if (record.dead_letter_level != DeadLetterLevel::Minimal &&
        build_raw_dead_letter_record(record, settings, origin, failed_at, into)) {
      return;
    }
    // The original cannot be copied within the limit: the minimal envelope says what it was,
    // and the original stays at its offset (see raw_dead_letter.h).
    build_envelope_record(record, settings, origin, failed_at, DeadLetterLevel::Minimal, into);
    return;
  }
  build_envelope_record(record, settings, origin, failed_at, record.dead_letter_level, into);
}

}  // namespace sluice::engine
