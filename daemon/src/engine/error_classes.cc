#include "engine/error_classes.h"

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

}  // namespace sluice::engine
