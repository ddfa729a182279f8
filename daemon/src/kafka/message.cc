#include "kafka/message.h"

namespace sluice::kafka {

struct Message::Built {
  Fields fields;
  HeadersPtr headers;
  rd_kafka_message_t view{};
};

Message Message::build(Fields fields) {
  auto built = std::make_unique<Built>();
  built->fields = std::move(fields);
  Fields& owned = built->fields;
  rd_kafka_message_t& view = built->view;
  view.err = owned.error;
  view.partition = owned.partition;
  view.offset = owned.offset;
  if (owned.value) {
    view.payload = owned.value->data();
    view.len = owned.value->size();
  }
  if (owned.key) {
    view.key = owned.key->data();
    view.key_len = owned.key->size();
  }
  if (!owned.headers.empty()) {
    built->headers.reset(rd_kafka_headers_new(owned.headers.size()));
    for (const auto& [name, value] : owned.headers) {
      rd_kafka_header_add(built->headers.get(), name.data(), static_cast<ssize_t>(name.size()), value.data(),
                          static_cast<ssize_t>(value.size()));
    }
  }
  Message message;
  message.raw_ = &built->view;
  message.built_ = built.release();
  return message;
}

Message& Message::operator=(Message&& other) noexcept {
  if (this != &other) {
    reset();
    raw_ = std::exchange(other.raw_, nullptr);
    built_ = std::exchange(other.built_, nullptr);
    headers_replaced_ = std::exchange(other.headers_replaced_, false);
  }
  return *this;
}

void Message::destroy() {
  if (built_ != nullptr) {
    delete built_;
  } else if (raw_ != nullptr) {
    rd_kafka_message_destroy(raw_);
  }
  raw_ = nullptr;
  built_ = nullptr;
  headers_replaced_ = false;
}

std::string Message::error_text() const {
  if (built_ != nullptr) return rd_kafka_err2str(raw_->err);
  return rd_kafka_message_errstr(raw_);
}

const char* Message::topic() const {
  if (built_ != nullptr) return built_->fields.topic.c_str();
  return raw_->rkt != nullptr ? rd_kafka_topic_name(raw_->rkt) : "";
}

int64_t Message::timestamp_ms() const {
  if (built_ != nullptr) return built_->fields.timestamp_ms;
  return rd_kafka_message_timestamp(raw_, nullptr);
}

rd_kafka_headers_t* Message::headers() const {
  if (built_ != nullptr) return built_->headers.get();
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(raw_, &headers) != RD_KAFKA_RESP_ERR_NO_ERROR) return nullptr;
  return headers;
}

std::optional<std::string_view> Message::last_header(const char* name) const {
  rd_kafka_headers_t* list = headers();
  if (list == nullptr) return std::nullopt;
  const void* value = nullptr;
  size_t size = 0;
  if (rd_kafka_header_get_last(list, name, &value, &size) != RD_KAFKA_RESP_ERR_NO_ERROR) return std::nullopt;
  return value != nullptr ? std::string_view(static_cast<const char*>(value), size) : std::string_view();
}

HeadersPtr Message::take_headers() {
  if (built_ != nullptr || headers_replaced_) {
    rd_kafka_headers_t* own = headers();
    return HeadersPtr(own != nullptr ? rd_kafka_headers_copy(own) : rd_kafka_headers_new(4));
  }
  rd_kafka_headers_t* detached = nullptr;
  if (rd_kafka_message_detach_headers(raw_, &detached) == RD_KAFKA_RESP_ERR_NO_ERROR && detached != nullptr) {
    return HeadersPtr(detached);
  }
  return HeadersPtr(rd_kafka_headers_new(4));
}

void Message::set_headers(HeadersPtr headers) {
  headers_replaced_ = true;
  if (built_ != nullptr) {
    built_->headers = std::move(headers);
    return;
  }
  rd_kafka_message_set_headers(raw_, headers.release());  // the message owns them now
}

}  // namespace sluice::kafka
