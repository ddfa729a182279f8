#include "engine/dead_letter_envelope.h"

#include <rapidjson/document.h>

#include "common/text.h"
#include "fingerprint/fingerprint.h"

namespace sluice::engine {
namespace {

void append_string_field(std::string& out, std::string_view name, std::string_view value) {
  out += '"';
  out += name;
  out += "\":\"";
  text::append_json_escaped(out, value);
  out += "\",";
}

void append_raw_field(std::string& out, std::string_view name, std::string_view raw_json) {
  out += '"';
  out += name;
  out += "\":";
  out += raw_json;
  out += ',';
}

std::string string_member(const rapidjson::Document& document, const char* name) {
  auto it = document.FindMember(name);
  if (it == document.MemberEnd() || !it->value.IsString()) return {};
  return {it->value.GetString(), it->value.GetStringLength()};
}

}  // namespace

std::string build_dead_letter_envelope(const DeadLetterInfo& info) {
  std::string out;
  out.reserve(info.value.size() + 512);
  out += '{';
  if (info.value_is_null) {
    append_raw_field(out, "original_message", "null");
    append_raw_field(out, "original_message_null", "true");
  } else if (info.value.size() > info.embed_limit) {
    append_string_field(out, "original_message_base64", text::base64_encode(info.value.substr(0, info.embed_limit)));
    append_raw_field(out, "original_truncated", "true");
    append_raw_field(out, "original_size", std::to_string(info.value.size()));
    append_string_field(out, "original_sha256", fingerprint::sha256_hex(info.value));
  } else if (text::is_valid_utf8(info.value)) {
    append_string_field(out, "original_message", info.value);
  } else {
    append_string_field(out, "original_message_base64", text::base64_encode(info.value));
  }

  std::string_view key(static_cast<const char*>(info.key), info.key_size);
  if (info.key == nullptr) {
    append_raw_field(out, "original_key", "null");
  } else if (key.size() > info.key_embed_limit) {
    append_string_field(out, "original_key_base64", text::base64_encode(key.substr(0, info.key_embed_limit)));
    append_raw_field(out, "original_key_truncated", "true");
    append_raw_field(out, "original_key_size", std::to_string(key.size()));
    append_string_field(out, "original_key_sha256", fingerprint::sha256_hex(key));
  } else if (text::is_valid_utf8(key)) {
    append_string_field(out, "original_key", key);
  } else {
    append_string_field(out, "original_key_base64", text::base64_encode(key));
  }

  append_string_field(out, "error", info.error);
  append_string_field(out, "error_stage", info.error_stage);
  append_string_field(out, "error_detail", info.error_detail);
  append_string_field(out, "original_topic", info.topic);
  append_raw_field(out, "original_partition", std::to_string(info.partition));
  append_raw_field(out, "original_offset", std::to_string(info.offset));
  if (info.timestamp_ms >= 0) append_raw_field(out, "original_timestamp", std::to_string(info.timestamp_ms));
  append_string_field(out, "failed_at", text::format_rfc3339_utc(info.failed_at));
  if (info.http_status != 0) {
    append_raw_field(out, "http_status", std::to_string(info.http_status));
    append_string_field(out, "response_body", info.response_body);
  }
  if (info.headers_dropped > 0) append_raw_field(out, "original_headers_dropped", std::to_string(info.headers_dropped));
  append_raw_field(out, "retry_count", std::to_string(info.retry_count));
  out += "\"max_retries_exceeded\":";
  out += info.max_retries_exceeded ? "true" : "false";
  out += '}';
  return out;
}

DecodedEnvelope decode_dead_letter_envelope(std::string_view bytes) {
  DecodedEnvelope envelope;
  rapidjson::Document parsed;
  parsed.Parse(bytes.data(), bytes.size());
  if (parsed.HasParseError() || !parsed.IsObject()) {
    envelope.why_not = "not a DLQ envelope";
    return envelope;
  }
  // Read through a const view: C++20 finds comparing RapidJSON's mutable member iterators
  // ambiguous (its operators predate rewritten comparisons), the const ones are fine.
  const rapidjson::Document& document = parsed;
  envelope.original_topic = string_member(document, "original_topic");
  envelope.error = string_member(document, "error");
  envelope.error_stage = string_member(document, "error_stage");
  envelope.failed_at = text::parse_rfc3339(string_member(document, "failed_at"));
  auto truncated = document.FindMember("original_truncated");
  if (truncated != document.MemberEnd() && truncated->value.IsTrue()) {
    envelope.why_not = "original value was truncated in the envelope";
    return envelope;
  }
  auto message = document.FindMember("original_message");
  auto base64 = document.FindMember("original_message_base64");
  if (message != document.MemberEnd() && message->value.IsString()) {
    envelope.value = std::string(message->value.GetString(), message->value.GetStringLength());
  } else if (message != document.MemberEnd() && message->value.IsNull()) {
    envelope.value.reset();
  } else if (base64 != document.MemberEnd() && base64->value.IsString()) {
    envelope.value = text::base64_decode(base64->value.GetString());
    if (!envelope.value) {
      envelope.why_not = "original_message_base64 is not valid base64";
      return envelope;
    }
  } else {
    envelope.why_not = "no original_message in the envelope";
    return envelope;
  }
  if (envelope.original_topic.empty()) {
    envelope.why_not = "no original_topic in the envelope";
    return envelope;
  }
  envelope.replayable = true;
  return envelope;
}

}  // namespace sluice::engine
