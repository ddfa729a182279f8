#include "engine/raw_dead_letter.h"

#include <string>
#include <utility>
#include <vector>

#include "common/outcome.h"
#include "common/text.h"
#include "engine/record_headers.h"

namespace sluice::engine {
namespace {

// Room for the record's own framing beyond its key, value and headers (librdkafka counts a few
// dozen bytes; the rest is margin).
constexpr int64_t kRawFramingBytes = 512;

// Every header the raw format sets; any of these the record carried is removed first.
constexpr const char* kContextHeaders[] = {
    header::kDlqFormat,       header::kError,          header::kErrorStage,        header::kErrorDetail,
    header::kOriginalTopic,   header::kOriginalPartition, header::kOriginalOffset, header::kOriginalTimestamp,
    header::kFailedAt,        header::kRetryCount,     header::kHttpStatus,        header::kHttpResponse,
    header::kOriginalHeadersDropped};
// A retry-tier hold or a delivery, not the failure: left out of a raw DLQ record.
constexpr const char* kStateHeaders[] = {header::kFingerprint, header::kSource,      header::kRetryDue,
                                         header::kRetryAfter,  header::kTierWrites,  header::kParkedBehind};

struct ContextHeader {
  const char* name;
  std::string value;
  bool free_text;  // gives first when space is short
};

std::vector<ContextHeader> context_of(const InFlightRecord& record, const Origin& origin,
                                      std::chrono::system_clock::time_point failed_at) {
  std::vector<ContextHeader> context = {
      {header::kDlqFormat, std::string(header::kDlqFormatRaw), false},
      {header::kError, std::string(reason_label(record.reason)), false},
      {header::kErrorStage, std::string(record.stage), false},
      {header::kErrorDetail, record.detail, true},
      {header::kOriginalTopic, origin.topic, false},
      {header::kOriginalPartition, std::to_string(origin.partition), false},
      {header::kOriginalOffset, std::to_string(origin.offset), false},
  };
  if (record.timestamp_ms >= 0) context.push_back({header::kOriginalTimestamp, std::to_string(record.timestamp_ms), false});
  context.push_back({header::kFailedAt, text::format_rfc3339_utc(failed_at), false});
  context.push_back({header::kRetryCount, std::to_string(record.retry_count), false});
  if (record.http_status != 0) {
    context.push_back({header::kHttpStatus, std::to_string(record.http_status), false});
    context.push_back({header::kHttpResponse, record.response_excerpt, true});
  }
  return context;
}

int64_t wire_bytes(std::string_view name, std::string_view value) {
  return static_cast<int64_t>(header_wire_bytes(name, value.size()));
}

void add_header(rd_kafka_headers_t* headers, const char* name, std::string_view value) {
  rd_kafka_header_add(headers, name, -1, value.data(), static_cast<ssize_t>(value.size()));
}

std::optional<std::string> last_header(const rd_kafka_headers_t* headers, const char* name) {
  const void* value = nullptr;
  size_t size = 0;
  if (headers == nullptr || rd_kafka_header_get_last(headers, name, &value, &size) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return std::nullopt;
  }
  return value != nullptr ? std::string(static_cast<const char*>(value), size) : std::string();
}

}  // namespace

bool build_raw_dead_letter_record(InFlightRecord& record, const DeadLetterSettings& settings, const Origin& origin,
                                  std::chrono::system_clock::time_point failed_at, DeadLetterRecord& into) {
  kafka::Message& message = record.message;
  const std::vector<ContextHeader> context = context_of(record, origin, failed_at);
  int64_t essential_bytes = 0;
  int64_t free_text_bytes = 0;
  for (const ContextHeader& header : context) {
    (header.free_text ? free_text_bytes : essential_bytes) += wire_bytes(header.name, header.value);
  }
  size_t original_count = 0;
  const int64_t original_bytes = static_cast<int64_t>(header_wire_bytes(message.headers(), &original_count));
  const std::optional<std::string> replay_count = last_header(message.headers(), header::kReplayCount);
  // Without the original headers the record keeps its replay count (the loop guard needs it)
  // and says how many were left out.
  const int64_t without_headers_bytes =
      essential_bytes + wire_bytes(header::kOriginalHeadersDropped, std::to_string(original_count)) +
      (replay_count ? wire_bytes(header::kReplayCount, *replay_count) : 0);
  const int64_t body = static_cast<int64_t>(record.value().size() + message.key_size()) + kRawFramingBytes;
  const int64_t limit = settings.max_message_bytes;

  DeadLetterLevel level = record.dead_letter_level;
  bool keep_free_text = false;
  if (level == DeadLetterLevel::Full && body + original_bytes + essential_bytes + free_text_bytes <= limit) {
    keep_free_text = true;
  } else if (level == DeadLetterLevel::Full && body + original_bytes + essential_bytes <= limit) {
    keep_free_text = false;
  } else if (body + without_headers_bytes <= limit) {
    level = DeadLetterLevel::Truncated;
  } else {
    return false;
  }

  kafka::HeadersPtr headers;
  if (level == DeadLetterLevel::Full) {
    headers = message.take_headers();
    for (const char* name : kContextHeaders) rd_kafka_header_remove(headers.get(), name);
    for (const char* name : kStateHeaders) rd_kafka_header_remove(headers.get(), name);
  } else {
    headers.reset(rd_kafka_headers_new(context.size() + 2));
    if (replay_count) add_header(headers.get(), header::kReplayCount, *replay_count);
    if (original_count > 0) add_header(headers.get(), header::kOriginalHeadersDropped, std::to_string(original_count));
  }
  for (const ContextHeader& header : context) {
    if (keep_free_text || !header.free_text) add_header(headers.get(), header.name, header.value);
  }

  into.envelope.clear();
  into.level = level;
  into.raw = true;
  into.out = {};
  into.out.topic = settings.topic;
  into.out.key = message.key_data();
  into.out.key_size = message.key_size();
  into.out.value = record.value();
  into.out.null_value = record.value_is_null();
  into.out.headers = std::move(headers);
  into.out.opaque = &record;
  return true;
}

DecodedEnvelope decode_dead_letter_record(std::optional<std::string_view> value, const rd_kafka_headers_t* headers) {
  if (last_header(headers, header::kDlqFormat) != header::kDlqFormatRaw) {
    return decode_dead_letter_envelope(value.value_or(std::string_view()));
  }
  DecodedEnvelope decoded;
  decoded.raw = true;
  if (value) decoded.value = std::string(*value);
  decoded.original_topic = last_header(headers, header::kOriginalTopic).value_or("");
  decoded.error = last_header(headers, header::kError).value_or("");
  decoded.error_stage = last_header(headers, header::kErrorStage).value_or("");
  decoded.failed_at = text::parse_rfc3339(last_header(headers, header::kFailedAt).value_or(""));
  if (decoded.original_topic.empty()) {
    decoded.why_not = "no sluice-original-topic header on a raw DLQ record";
    return decoded;
  }
  decoded.replayable = true;
  return decoded;
}

void remove_dead_letter_context(rd_kafka_headers_t* headers) {
  for (const char* name : kContextHeaders) rd_kafka_header_remove(headers, name);
}

}  // namespace sluice::engine
