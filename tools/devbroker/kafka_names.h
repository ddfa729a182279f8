#pragma once
// Names the control protocol accepts for Kafka API keys, error codes and topics.
//
// API keys are limited to the requests the librdkafka 2.0.2 mock broker serves: pushing an
// error for any other request would sit on a stack that nothing ever pops, and a test
// waiting for it would hang instead of failing. Error names come from librdkafka itself, so
// every code the installed library knows is accepted and nothing is spelled twice.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include <librdkafka/rdkafka.h>

namespace sluice::devbroker {

struct ApiKeyInfo {
  std::string_view name;
  int16_t key;
  // False for a request the mock serves without consulting its error stacks (Metadata in
  // librdkafka 2.0.2); an injected error for it would never be returned.
  bool takes_injected_errors;
};

// Looks up a served API by name (case-insensitive, e.g. "Produce") or by number; nullptr
// when the text names nothing the mock serves.
const ApiKeyInfo* find_api_key(std::string_view text);

// "Produce, Fetch, ..." for error messages.
std::string served_api_key_names();

// Kafka's own topic name rule: 1..249 of [A-Za-z0-9._-], and not "." or "..".
bool is_valid_topic_name(std::string_view name);

// Error codes by librdkafka name without the RD_KAFKA_RESP_ERR_ prefix (the prefix is
// tolerated, case is ignored) or by number. Built once from rd_kafka_get_err_descs.
class ErrorNames {
 public:
  ErrorNames();

  // nullopt when the text is neither a known name nor the number of a known code.
  std::optional<rd_kafka_resp_err_t> find(std::string_view text) const;

 private:
  std::unordered_map<std::string, rd_kafka_resp_err_t> by_lower_name_;
  std::unordered_map<int64_t, rd_kafka_resp_err_t> by_code_;
};

// "NAME (description)" for replies, e.g. "UNKNOWN_TOPIC_OR_PART (Broker: Unknown topic or partition)".
std::string describe_error(rd_kafka_resp_err_t err);

}  // namespace sluice::devbroker
