#include "engine/record_headers.h"

namespace sluice::engine {

kafka::HeadersPtr derive_headers(const rd_kafka_message_t& message,
                                 std::initializer_list<std::pair<const char*, std::string_view>> set,
                                 std::initializer_list<const char*> remove) {
  rd_kafka_headers_t* original = nullptr;
  kafka::HeadersPtr headers;
  // rd_kafka_message_headers() takes a non-const message but only reads (and caches) them.
  if (rd_kafka_message_headers(const_cast<rd_kafka_message_t*>(&message), &original) == RD_KAFKA_RESP_ERR_NO_ERROR &&
      original != nullptr) {
    headers.reset(rd_kafka_headers_copy(original));
  } else {
    headers.reset(rd_kafka_headers_new(set.size()));
  }
  for (const char* name : remove) rd_kafka_header_remove(headers.get(), name);
  for (const auto& [name, value] : set) {
    rd_kafka_header_remove(headers.get(), name);
    rd_kafka_header_add(headers.get(), name, -1, value.data(), static_cast<ssize_t>(value.size()));
  }
  return headers;
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
