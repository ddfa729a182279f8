#pragma once
// A destination's transport: a Kafka topic or an HTTP endpoint. Sinks are built once per
// destination from config and live as long as the engine.
//
// send() starts delivering a record and returns at once; the result reaches the engine on
// the engine thread later (a topic sink's through the producer's delivery report, an HTTP
// sink's through the response inbox). A sink never decides what a failure means for the
// record, nor when a record may go: its Destination asks the breaker and keeps the order.

#include <string>

#include "common/assert.h"
#include "engine/in_flight_record.h"

namespace sluice::engine {

struct Batch;

enum class SendStatus {
  Accepted,   // delivery started; the result comes later
  QueueFull,  // the sink's local queue is full: try again shortly (not a failure)
  Rejected,   // refused immediately for this record (e.g. larger than the producer allows)
};

struct SendResult {
  SendStatus status = SendStatus::Accepted;
  std::string error;  // for Rejected
};

class Sink {
 public:
  virtual ~Sink() = default;
  // Stable and human-readable, e.g. "topic:clean.email"; a metric label and a log field.
  virtual const std::string& name() const = 0;
  virtual SendResult send(InFlightRecord& record) = 0;
  // Starts delivering a batch in one request (http_batch.h); always accepted. Only sinks whose
  // destination batches are given batches.
  virtual void send_batch(const Batch& batch) {
    (void)batch;
    SLUICE_ASSERT(false, "a batch for a sink that does not take batches");
  }
  // Hands what send() started since the last call to the transport in one go (engine
  // thread, before the engine waits for anything).
  virtual void flush() {}
};

}  // namespace sluice::engine
