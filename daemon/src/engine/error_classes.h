#pragma once
// One table that decides what a failed delivery means for the record:
//   BadData   — this record can never be delivered as it is (too large, invalid): DLQ now.
//   Transient — the destination could not take it now (timeouts, brokers down, leadership
//               moving, authorization; HTTP 408, 429, 5xx, refused or reset connections): try
//               again later; never a reason to dead-letter.
// A route may override the table per error name (`routes[].errors`).

#include <map>
#include <string>

#include <librdkafka/rdkafka.h>

#include "config/config.h"

namespace sluice::engine {

using ErrorClass = config::ErrorClass;

ErrorClass classify_produce_error(rd_kafka_resp_err_t error);

// HTTP routes: 408, 429 and 5xx are transient (the server says "not now"); any other status
// below 200 or from 300 is this record's fault (bad data). Timeouts and connection failures
// never reach this table: they are always transient.
ErrorClass classify_http_status(int status);

// One route's overrides of the table, as the loader parsed them (config/route_errors.h).
class RouteErrors {
 public:
  explicit RouteErrors(const config::RouteErrorTable& table);
  ErrorClass classify(rd_kafka_resp_err_t error) const;
  ErrorClass classify_http(int status) const;

 private:
  std::map<int, ErrorClass> produce_;       // rd_kafka_resp_err_t → class
  std::map<std::string, ErrorClass> http_;  // "503" or "5xx" → class
};

}  // namespace sluice::engine
