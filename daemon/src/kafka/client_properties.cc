#include "kafka/client_properties.h"

namespace sluice::kafka {

Properties client_properties(const config::KafkaConfig& kafka, ClientRole role) {
  const bool producer = role == ClientRole::EngineProducer || role == ClientRole::ReplayProducer;
  const bool replay = role == ClientRole::ReplayConsumer || role == ClientRole::ReplayProducer;
  if (role == ClientRole::TopicAdmin) {
    // Connection and security settings only: it never produces or joins the group.
    Properties properties = kafka.properties;
    properties["bootstrap.servers"] = kafka.brokers;
    properties["client.id"] = kafka.client_id + "-topics";
    return properties;
  }
  // Defaults the user may override.
  Properties properties = {{"socket.nagle.disable", "true"}};  // librdkafka 2.0.2 still defaults to Nagle on
  if (role == ClientRole::EngineConsumer) {
    properties["auto.offset.reset"] = "earliest";  // a new group starts at the oldest record: nothing skipped
    // Prefetch at most 16 MiB (librdkafka's default is 64 MiB): with max_in_flight_bytes it
    // is what bounds the daemon's memory while downstream is slow or down.
    properties["queued.max.messages.kbytes"] = "16384";
  }
  if (role == ClientRole::EngineProducer) properties["linger.ms"] = "5";
  for (const auto& [name, value] : kafka.properties) properties[name] = value;
  for (const auto& [name, value] : producer ? kafka.producer_properties : kafka.consumer_properties) {
    properties[name] = value;
  }

  // What sluice's correctness depends on.
  properties["bootstrap.servers"] = kafka.brokers;
  properties["client.id"] = replay ? kafka.client_id + "-replay" : kafka.client_id;
  if (producer) {
    properties["enable.idempotence"] = "true";  // no duplicates or reordering from producer retries
    properties["acks"] = "all";
    if (role == ClientRole::EngineProducer && kafka.delivery == config::DeliveryMode::ExactlyOnce) {
      properties["transactional.id"] = kafka.transactional_id;
    }
    return properties;
  }
  properties["enable.auto.commit"] = "false";  // the engine commits the completed prefix itself
  properties["enable.partition.eof"] = "false";
  if (replay) {
    properties["group.id"] = kafka.group_id + "-replay";  // never joined: partitions are assigned
    return properties;
  }
  properties["group.id"] = kafka.group_id;
  properties["enable.auto.offset.store"] = "false";  // ... and never lets librdkafka store positions
  if (kafka.delivery == config::DeliveryMode::ExactlyOnce) {
    // Records of transactions that were aborted (including our own) are never seen.
    properties["isolation.level"] = "read_committed";
  }
  return properties;
}

}  // namespace sluice::kafka
