#include "engine/engine_factory.h"

#include "kafka/client_properties.h"
#include "kafka/consumer.h"
#include "kafka/producer.h"

namespace sluice::engine {

std::unique_ptr<Engine> make_engine(Engine::Parts parts, std::vector<std::string>& errors) {
  const config::KafkaConfig& kafka = parts.config->kafka;
  if (!parts.producer) {
    parts.producer = kafka::Producer::create(kafka::client_properties(kafka, kafka::ClientRole::EngineProducer), errors);
    if (!parts.producer) return nullptr;
  }
  if (!parts.consumer) {
    kafka::Properties properties = kafka::client_properties(kafka, kafka::ClientRole::EngineConsumer);
    // retry.ordering: key needs each input partition and its tier partitions on one instance.
    // Its rebuild after an assignment reads tier partitions to their end, which an end-of-partition
    // event marks when the last offsets are transaction markers.
    if (parts.config->retry.ordering == config::RetryOrdering::Key) {
      properties["partition.assignment.strategy"] = "range";
      properties["enable.partition.eof"] = "true";
    }
    parts.consumer = kafka::KafkaConsumer::create(properties, errors);
    if (!parts.consumer) return nullptr;
  }
  return Engine::create(std::move(parts), errors);
}

}  // namespace sluice::engine
