#include "engine/error_classes.h"

#include <string>


namespace sluice::engine {

ErrorClass classify_produce_error(rd_kafka_resp_err_t error) {
  switch (error) {
    // The broker or the client refuses this record's content or size, whatever the state of
    // the cluster: retrying cannot help.
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_INVALID_TIMESTAMP:
    case RD_KAFKA_RESP_ERR__BAD_MSG:
      return ErrorClass::BadData;
    default:
      return ErrorClass::Transient;
  }
}

ErrorClass classify_http_status(int status) {
  if (status == 408 || status == 429 || status >= 500) return ErrorClass::Transient;
  return ErrorClass::BadData;
}

RouteErrors::RouteErrors(const config::RouteErrorTable& table) : produce_(table.kafka), http_(table.http) {}

ErrorClass RouteErrors::classify(rd_kafka_resp_err_t error) const {
  auto it = produce_.find(static_cast<int>(error));
  return it != produce_.end() ? it->second : classify_produce_error(error);
}

ErrorClass RouteErrors::classify_http(int status) const {
  if (auto exact = http_.find(std::to_string(status)); exact != http_.end()) return exact->second;
  if (auto range = http_.find(std::to_string(status / 100) + "xx"); range != http_.end()) return range->second;
  return classify_http_status(status);
}

}  // namespace sluice::engine
