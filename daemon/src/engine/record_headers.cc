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

bool rename_inbound_headers(kafka::Message& message, bool* replayed) {
  if (replayed != nullptr) *replayed = false;
  const rd_kafka_headers_t* headers = message.headers();
  if (headers == nullptr) return false;
  bool foreign = false;
  const char* name = nullptr;
  const void* value = nullptr;
  size_t size = 0;
  for (size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
    std::string_view header_name(name);
    if (!header_name.starts_with(header::kPrefix)) continue;
    if (header_name == header::kReplayCount) {
      if (replayed != nullptr) *replayed = true;
    } else {
      foreign = true;
    }
  }
  if (!foreign) return false;
  kafka::HeadersPtr renamed(rd_kafka_headers_new(8));
  std::string new_name;
  for (size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
    std::string_view header_name(name);
    if (header_name.starts_with(header::kPrefix) && header_name != header::kReplayCount) {
      new_name.assign(header::kUpstreamPrefix).append(header_name);
      rd_kafka_header_add(renamed.get(), new_name.data(), static_cast<ssize_t>(new_name.size()), value,
                          value != nullptr ? static_cast<ssize_t>(size) : 0);
    } else {
      rd_kafka_header_add(renamed.get(), name, -1, value, value != nullptr ? static_cast<ssize_t>(size) : 0);
    }
  }
  message.set_headers(std::move(renamed));
  return true;
}

kafka::HeadersPtr derive_headers(kafka::Message& message,
                                 std::initializer_list<std::pair<const char*, std::string_view>> set,
                                 std::initializer_list<const char*> remove) {
  kafka::HeadersPtr headers = message.take_headers();
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

size_t header_wire_bytes(std::string_view name, size_t value_size) {
  // The lengths of a header's name and value are varints of at most 5 bytes each.
  constexpr size_t kHeaderFramingBytes = 10;
  return name.size() + value_size + kHeaderFramingBytes;
}

size_t header_wire_bytes(const rd_kafka_headers_t* headers, size_t* count) {
  size_t total = 0;
  size_t found = 0;
  const char* name = nullptr;
  const void* value = nullptr;
  size_t size = 0;
  for (size_t i = 0; headers != nullptr &&
                     rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
       ++i) {
    total += header_wire_bytes(name, size);
    found += 1;
  }
  if (count != nullptr) *count = found;
  return total;
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
  return derive_headers(record.message, {{header::kFingerprint, fingerprint_hex_}, {header::kSource, source_}},
                        {header::kError, header::kErrorStage});
}

}  // namespace sluice::engine
