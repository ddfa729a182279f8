#pragma once
// One table that decides what a failed delivery means for the record:
//   BadData   — this record can never be delivered as it is (too large, invalid): DLQ now.
//   Transient — the destination could not take it now (timeouts, brokers down, leadership
//               moving, authorization): try again later; never a reason to dead-letter.

#include <librdkafka/rdkafka.h>

namespace sluice::engine {

enum class ErrorClass { BadData, Transient };

ErrorClass classify_produce_error(rd_kafka_resp_err_t error);

}  // namespace sluice::engine
