#pragma once
// Records to build side records from, and readers for what was built.

#include <catch2/catch.hpp>

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

}  // namespace sluice::engine::testing
