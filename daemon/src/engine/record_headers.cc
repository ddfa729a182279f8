#include "engine/record_headers.h"

#include <charconv>

#include "common/text.h"

namespace sluice::engine {

namespace {

bool has_sluice_header(const rd_kafka_headers_t* headers) {
  const char* name = nullptr;
  const void* value = nullptr;
  size_t size = 0;
  for (size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
    if (std::string_view(name).starts_with(header::kPrefix)) return true;
  }
  return false;
}

}  // namespace

kafka::HeadersPtr derive_headers(rd_kafka_message_t& message,
                                 std::initializer_list<std::pair<const char*, std::string_view>> set,
                                 std::initializer_list<const char*> remove) {
  rd_kafka_headers_t* original = nullptr;
  kafka::HeadersPtr headers;
  if (rd_kafka_message_detach_headers(&message, &original) == RD_KAFKA_RESP_ERR_NO_ERROR && original != nullptr) {
    headers.reset(original);
  } else {
    headers.reset(rd_kafka_headers_new(set.size()));
  }
  // Records from outside carry no sluice-* headers; then there is nothing to remove, and one
  // pass over the list is cheaper than a removal scan per name.
  if (has_sluice_header(headers.get())) {
    for (const char* name : remove) rd_kafka_header_remove(headers.get(), name);
    for (const auto& [name, value] : set) rd_kafka_header_remove(headers.get(), name);
  }
  for (const auto& [name, value] : set) {
    rd_kafka_header_add(headers.get(), name, -1, value.data(), static_cast<ssize_t>(value.size()));
  }
  return headers;
}

void append_source(std::string& out, const InFlightRecord& record) {
  char digits[24];  // an int64 in decimal takes at most 20
  out.append(record.partition->topic).push_back('/');
  out.append(digits, std::to_chars(digits, digits + sizeof digits, record.partition->partition).ptr);
  out.push_back('/');
  out.append(digits, std::to_chars(digits, digits + sizeof digits, record.offset).ptr);
}

kafka::HeadersPtr ForwardHeaders::build(InFlightRecord& record) {
  text::assign_hex(record.fingerprint.bytes.data(), record.fingerprint.bytes.size(), fingerprint_hex_);
  source_.clear();
  append_source(source_, record);
  return derive_headers(*record.message, {{header::kFingerprint, fingerprint_hex_}, {header::kSource, source_}},
                        {header::kError, header::kErrorStage});
}

std::optional<std::string_view> last_header(const rd_kafka_message_t& message, const char* name) {
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(const_cast<rd_kafka_message_t*>(&message), &headers) != RD_KAFKA_RESP_ERR_NO_ERROR ||
      headers == nullptr) {
    return std::nullopt;
  }
  const void* value = nullptr;
  size_t size = 0;
  if (rd_kafka_header_get_last(headers, name, &value, &size) != RD_KAFKA_RESP_ERR_NO_ERROR) return std::nullopt;
  return value != nullptr ? std::string_view(static_cast<const char*>(value), size) : std::string_view();
}

}  // namespace sluice::engine
