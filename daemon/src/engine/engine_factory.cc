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
    parts.consumer = kafka::KafkaConsumer::create(kafka::client_properties(kafka, kafka::ClientRole::EngineConsumer), errors);
    if (!parts.consumer) return nullptr;
  }
  return Engine::create(std::move(parts), errors);
}

}  // namespace sluice::engine
