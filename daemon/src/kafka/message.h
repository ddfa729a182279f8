#pragma once
// One consumed record, as the engine sees it. Either what librdkafka returned (zero copy: the
// value, key and headers stay in librdkafka's fetch buffer) or a record built from values,
// which a test's fake consumer hands out. Both read alike: the accessors look at one
// rd_kafka_message_t, librdkafka's own or one filled in over the built record's bytes, so the
// hot path has no branch per field.
//
// Threading: whoever holds the Message (the engine thread, or the stage thread while it runs
// the stages); moving it is cheap.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kafka/handles.h"

namespace sluice::kafka {

class Message {
 public:
  // What a built record is made of.
  struct Fields {
    std::string topic;
    int32_t partition = 0;
    int64_t offset = 0;
    std::optional<std::string> key;    // nullopt: no key
    std::optional<std::string> value;  // nullopt: a tombstone
    std::vector<std::pair<std::string, std::string>> headers;
    int64_t timestamp_ms = -1;
    rd_kafka_resp_err_t error = RD_KAFKA_RESP_ERR_NO_ERROR;  // a consumer error event instead of a record
  };

  Message() = default;
  // Takes over a message librdkafka returned.
  explicit Message(rd_kafka_message_t* consumed) noexcept : raw_(consumed) {}
  static Message build(Fields fields);
  ~Message() { reset(); }
  Message(Message&& other) noexcept { *this = std::move(other); }
  Message& operator=(Message&& other) noexcept;
  Message(const Message&) = delete;
  Message& operator=(const Message&) = delete;

  void reset() {
    if (raw_ != nullptr) destroy();
  }
  explicit operator bool() const { return raw_ != nullptr; }

  rd_kafka_resp_err_t error() const { return raw_->err; }
  std::string error_text() const;
  // NUL-terminated. For a consumed record the pointer is librdkafka's topic name, the same for
  // every record of the topic while it is assigned, so it can key a lookup cache.
  const char* topic() const;
  int32_t partition() const { return raw_->partition; }
  int64_t offset() const { return raw_->offset; }
  std::string_view value() const {
    return raw_->payload != nullptr ? std::string_view(static_cast<const char*>(raw_->payload), raw_->len)
                                    : std::string_view();
  }
  bool value_is_null() const { return raw_->payload == nullptr; }
  size_t value_size() const { return raw_->len; }
  // nullptr: the record has no key (distinct from an empty one).
  const void* key_data() const { return raw_->key; }
  size_t key_size() const { return raw_->key_len; }
  std::string_view key() const {
    return raw_->key != nullptr ? std::string_view(static_cast<const char*>(raw_->key), raw_->key_len)
                                : std::string_view();
  }
  int64_t timestamp_ms() const;

  // The record's header list (librdkafka parses a consumed record's headers on first use), or
  // nullptr when it has none. Owned by the message.
  rd_kafka_headers_t* headers() const;
  // The value of the last header named `name`, if any.
  std::optional<std::string_view> last_header(const char* name) const;
  // The header list for a record being produced (an empty list when there is none); the
  // message's own list is unchanged for a later reader. A consumed record's list is taken
  // rather than copied (copying and destroying it was a tenth of the engine thread):
  // librdkafka parses the record's bytes again if its headers are asked for later. A list
  // set by set_headers(), or a built record's, is copied instead.
  HeadersPtr take_headers();
  // Replaces the header list (e.g. with renamed headers).
  void set_headers(HeadersPtr headers);

  // Whether topic() is librdkafka's name for the topic (one pointer per topic), rather than the
  // built record's own copy.
  bool topic_is_shared() const { return built_ == nullptr; }
  // An address worth prefetching before the record is first read.
  const void* address() const { return raw_; }

 private:
  struct Built;
  void destroy();

  rd_kafka_message_t* raw_ = nullptr;  // librdkafka's, or &built_->view
  Built* built_ = nullptr;             // owned; set only for built records
  bool headers_replaced_ = false;      // set_headers() was called
};

}  // namespace sluice::kafka
