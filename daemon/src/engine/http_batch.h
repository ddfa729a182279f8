#pragma once
// An HTTP route's batches (`routes[].http.batch`): several records of the route in one
// request, and how a batch the endpoint refused as bad data is split until only the refused
// records are left.
//
//   request  the record values as a JSON array (`array`) or one per line (`ndjson`), with
//            Idempotency-Key: SHA-256 (hex) of the records' fingerprints in order — the same
//            records sent again carry the same key —, X-Sluice-Sources: topic/partition/offset
//            of each record and X-Sluice-Fingerprints: each record's fingerprint (hex), both
//            comma separated in the order of the body; a record's trace context, forwarded
//            headers and X-Sluice-Key only when every record of the batch has the same
//            (http_forward_headers.h).
//   bisect   a batch refused as bad data (a 4xx the route's error table calls bad data) is
//            split in halves; the first half is sent, the second waits in `rest` and goes
//            only once the first is answered, so parts go out one at a time and in order;
//            a part that is refused again is split again. A single record refused is the
//            record's own refusal: it goes to the DLQ, and no neighbour goes with it.
//
// The Destination builds, sends and answers batches (destination_batch.cc); the HttpSink
// turns one into a request. Threading: engine thread only.

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "config/config.h"
#include "engine/circuit_breaker.h"
#include "engine/in_flight_record.h"

namespace sluice::engine {

enum class BatchFormat { Array, Ndjson };

struct BatchSettings {
  size_t max_records = 100;
  int64_t max_bytes = 1'048'576;  // record values in one request (a larger record goes alone)
  std::chrono::milliseconds linger{5};
  BatchFormat format = BatchFormat::Array;

  static BatchSettings from(const config::HttpBatchConfig& config);
};

using BatchRecords = std::vector<InFlightRecord*>;

// The records of one request, in the order of its body.
struct Batch {
  uint64_t id = 0;
  BatchRecords records;
  CircuitBreaker::Permit permit;  // of this request
  std::chrono::steady_clock::time_point sent_at;
  // The parts of a refused batch still to be sent, in order, one at a time after this one.
  std::deque<BatchRecords> rest;

  // Splits this refused batch: the first half becomes `records` (to be sent again), the
  // second goes to the front of `rest`. False for a single record, which is left as it is.
  bool bisect();
  // The part to send after this one was answered, taking the rest with it; an empty batch
  // when nothing is left.
  Batch next_part();
};

// The request's body, Content-Type and headers.
std::string batch_body(const BatchRecords& records, BatchFormat format);
std::string_view batch_content_type(BatchFormat format);
std::string batch_idempotency_key(const BatchRecords& records);
std::string batch_sources(const BatchRecords& records);
std::string batch_fingerprints(const BatchRecords& records);

}  // namespace sluice::engine
