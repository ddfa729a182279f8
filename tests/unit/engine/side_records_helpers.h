#pragma once
// Records to build side records from, and readers for what was built.

#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <openssl/evp.h>
#include <rapidjson/document.h>

#include "common/text.h"
#include "engine/in_flight_record.h"
#include "kafka/message.h"
#include "kafka/producer_api.h"

namespace sluice::engine::testing {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

inline HeaderList read_headers(const rd_kafka_headers_t* headers) {
  HeaderList out;
  const char* name = nullptr;
  const void* value = nullptr;
  size_t size = 0;
  for (size_t i = 0; headers != nullptr &&
                     rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
       ++i) {
    out.emplace_back(name, value != nullptr ? std::string(static_cast<const char*>(value), size) : std::string());
  }
  return out;
}

// The values of every header named `name`, in order.
inline std::vector<std::string> header_values(const rd_kafka_headers_t* headers, const std::string& name) {
  std::vector<std::string> values;
  for (const auto& [header, value] : read_headers(headers)) {
    if (header == name) values.push_back(value);
  }
  return values;
}

// A consumed record with the state the side-record builders read.
struct SourceRecord {
  std::shared_ptr<PartitionState> partition;
  InFlightRecord record;

  SourceRecord(std::optional<std::string> key, std::optional<std::string> value, HeaderList headers,
               const std::string& topic = "inbound.email", int32_t partition_id = 1, int64_t offset = 1234) {
    partition = std::make_shared<PartitionState>(topic, partition_id);
    record.partition = partition;
    record.offset = offset;
    record.timestamp_ms = 1'700'000'000'000;
    kafka::Message::Fields fields;
    fields.topic = topic;
    fields.partition = partition_id;
    fields.offset = offset;
    fields.key = std::move(key);
    fields.value = std::move(value);
    fields.headers = std::move(headers);
    record.message = kafka::Message::build(std::move(fields));
  }
};

// Printable text that is not one byte repeated, so a prefix or a digest says which bytes were kept.
inline std::string patterned(size_t size, char seed) {
  std::string text(size, ' ');
  for (size_t i = 0; i < size; ++i) text[i] = static_cast<char>('a' + (static_cast<size_t>(seed) + i * 7) % 26);
  return text;
}

inline rapidjson::Document parse_json(std::string_view text) {
  rapidjson::Document document;
  document.Parse(text.data(), text.size());
  REQUIRE_FALSE(document.HasParseError());
  REQUIRE(document.IsObject());
  return document;
}

inline std::string json_string(const rapidjson::Value& value) {
  REQUIRE(value.IsString());
  return std::string(value.GetString(), value.GetStringLength());
}

inline std::string sha256_hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  REQUIRE(EVP_Digest(bytes.data(), bytes.size(), digest, &size, EVP_sha256(), nullptr) == 1);
  static const char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < size; ++i) {
    hex += kDigits[digest[i] >> 4];
    hex += kDigits[digest[i] & 0xf];
  }
  return hex;
}

// A producer that never connects, only to ask whether a record is within its limit.
class SizeCheck {
 public:
  explicit SizeCheck(int64_t limit) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    char error[512];
    REQUIRE(rd_kafka_conf_set(conf, "message.max.bytes", std::to_string(limit).c_str(), error, sizeof error) ==
            RD_KAFKA_CONF_OK);
    REQUIRE(rd_kafka_conf_set(conf, "batch.size", std::to_string(std::min<int64_t>(limit, 1'000'000)).c_str(), error,
                              sizeof error) == RD_KAFKA_CONF_OK);
    REQUIRE(rd_kafka_conf_set(conf, "log_level", "0", error, sizeof error) == RD_KAFKA_CONF_OK);
    handle_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
    if (handle_ == nullptr) rd_kafka_conf_destroy(conf);
    INFO(error);
    REQUIRE(handle_ != nullptr);
  }
  ~SizeCheck() {
    rd_kafka_purge(handle_, RD_KAFKA_PURGE_F_QUEUE);
    rd_kafka_destroy(handle_);
  }
  SizeCheck(const SizeCheck&) = delete;
  SizeCheck& operator=(const SizeCheck&) = delete;

  bool accepts(const kafka::OutboundRecord& out) {
    rd_kafka_headers_t* headers = out.headers ? rd_kafka_headers_copy(out.headers.get()) : rd_kafka_headers_new(0);
    const std::string topic(out.topic);
    rd_kafka_resp_err_t error = rd_kafka_producev(
        handle_, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(out.key, out.key_size), RD_KAFKA_V_VALUE(const_cast<char*>(out.value.data()), out.value.size()),
        RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_END);
    if (error != RD_KAFKA_RESP_ERR_NO_ERROR) rd_kafka_headers_destroy(headers);
    if (error == RD_KAFKA_RESP_ERR_NO_ERROR) rd_kafka_purge(handle_, RD_KAFKA_PURGE_F_QUEUE);
    INFO(rd_kafka_err2str(error));
    REQUIRE((error == RD_KAFKA_RESP_ERR_NO_ERROR || error == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE));
    return error == RD_KAFKA_RESP_ERR_NO_ERROR;
  }

 private:
  rd_kafka_t* handle_ = nullptr;
};

}  // namespace sluice::engine::testing
