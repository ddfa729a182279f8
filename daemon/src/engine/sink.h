#pragma once
// A destination of valid messages (a Kafka topic today; an HTTP endpoint later). Sinks are
// built once per route from config and live as long as the engine.
//
// send() starts delivering a record and returns at once; the result reaches the engine on
// the engine thread (for topic sinks through the producer's delivery report). A sink never
// decides what a failure means for the record: it reports what happened and the engine's
// error table decides (bad data → DLQ, transient → try again).

#include <string>

#include "engine/in_flight_record.h"

namespace sluice::engine {

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
};

}  // namespace sluice::engine
