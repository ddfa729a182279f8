#pragma once
// One table that decides what a failed delivery means for the record:
//   BadData   — this record can never be delivered as it is (too large, invalid): DLQ now.
//   Transient — the destination could not take it now (timeouts, brokers down, leadership
//               moving, authorization; HTTP 408, 429, 5xx, refused or reset connections): try
//               again later; never a reason to dead-letter.
// A route may override the table per error name (`routes[].errors`).

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <librdkafka/rdkafka.h>

#include "config/config.h"

namespace sluice::engine {

enum class ErrorClass { BadData, Transient };

ErrorClass classify_produce_error(rd_kafka_resp_err_t error);

// HTTP routes: 408, 429 and 5xx are transient (the server says "not now"); any other status
// below 200 or from 300 is this record's fault (bad data). Timeouts and connection failures
// never reach this table: they are always transient.
ErrorClass classify_http_status(int status);

// One route's overrides of the table.
class RouteErrors {
 public:
  // Every error name that is not librdkafka's (topic routes) is appended to `errors`.
  static RouteErrors parse(const config::RouteConfig& route, size_t index, std::vector<std::string>& errors);
  ErrorClass classify(rd_kafka_resp_err_t error) const;
  ErrorClass classify_http(int status) const;

 private:
  std::map<rd_kafka_resp_err_t, ErrorClass> produce_;
  std::map<std::string, ErrorClass> http_;  // "503" or "5xx" → class
};

}  // namespace sluice::engine
