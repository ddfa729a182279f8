#pragma once
// The value of a DLQ record: a JSON object that carries everything needed to understand and
// replay the failure. The record's key and headers are the original ones (plus sluice-error
// and sluice-error-stage), so only the value needs this envelope.
//
//   original_message         the original value as a JSON string, byte-exact (valid UTF-8)
//   original_message_base64  instead, when the value is not valid UTF-8
//   original_message_null    true for a tombstone (null value)
//   original_key / original_key_base64 / null
//   error, error_stage, error_detail, original_topic, original_partition, original_offset,
//   original_timestamp (ms, when the record had one), failed_at (RFC 3339 UTC),
//   retry_count, max_retries_exceeded; for an HTTP route's refusal also http_status and
//   response_body (the first 1 KiB)
//
// When the whole envelope would be larger than the producer accepts, the caller builds it
// again with `embed_limit` set: then the first embed_limit bytes go in base64 with
// original_truncated, original_size and original_sha256, and the full value stays at its
// original offset. A key longer than `key_embed_limit` is embedded the same way:
// original_key_base64 holds its first bytes, with original_key_truncated, original_key_size
// and original_key_sha256. `headers_dropped` (when not 0) says how many of the original
// headers the DLQ record does not carry because they would not fit.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::engine {

struct DeadLetterInfo {
  std::string_view value;
  bool value_is_null = false;
  const void* key = nullptr;  // nullptr: no key
  size_t key_size = 0;
  std::string_view topic;
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp_ms = -1;  // -1: the record had no timestamp
  std::string_view error;
  std::string_view error_stage;
  std::string_view error_detail;
  int retry_count = 0;
  bool max_retries_exceeded = false;
  std::chrono::system_clock::time_point failed_at;
  int http_status = 0;              // an HTTP route's answer (0: none)
  std::string_view response_body;   // the first 1 KiB of that answer's body
  size_t embed_limit = std::numeric_limits<size_t>::max();
  size_t key_embed_limit = std::numeric_limits<size_t>::max();
  size_t headers_dropped = 0;
};

std::string build_dead_letter_envelope(const DeadLetterInfo& info);

// What `sluice replay` needs from a DLQ record's value: the original value (if the envelope
// holds all of it) and where it came from. Also what decode_dead_letter_record
// (raw_dead_letter.h) reads from a raw DLQ record's headers.
struct DecodedEnvelope {
  std::optional<std::string> value;  // nullopt: a tombstone
  bool raw = false;                  // a raw DLQ record: value and key are the original's
  bool replayable = false;           // the value is whole and the original topic known
  std::string why_not;               // when not replayable
  std::string original_topic;
  std::string error;
  std::string error_stage;
  std::optional<std::chrono::system_clock::time_point> failed_at;
};

DecodedEnvelope decode_dead_letter_envelope(std::string_view bytes);

}  // namespace sluice::engine
