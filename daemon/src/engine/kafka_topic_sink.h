#pragma once
// Forwards records to one Kafka topic through the instance's producer: the original value,
// key and headers, plus sluice-fingerprint and sluice-source (topic/partition/offset).
// The delivery report (opaque = the record) reaches the engine through the producer.

#include <string>
#include <string_view>

#include "engine/record_headers.h"
#include "engine/sink.h"
#include "kafka/producer_api.h"

namespace sluice::engine {

// "topic:<topic>": the sink label of a topic in metrics and logs.
inline std::string topic_sink_name(std::string_view topic) { return "topic:" + std::string(topic); }

class KafkaTopicSink final : public Sink {
 public:
  KafkaTopicSink(kafka::ProducerApi& producer, std::string topic)
      : producer_(producer), topic_(std::move(topic)), name_(topic_sink_name(topic_)) {}

  // Sink
  const std::string& name() const override { return name_; }
  SendResult send(InFlightRecord& record) override;

  const std::string& topic() const { return topic_; }

 private:
  kafka::ProducerApi& producer_;
  const std::string topic_;
  const std::string name_;
  ForwardHeaders headers_;  // send() runs on the engine thread only
};

}  // namespace sluice::engine
