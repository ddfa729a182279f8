#pragma once
// The librdkafka properties of every client sluice creates, in one place: defaults the user
// may override, then the user's `kafka.properties` and the role's own section, then what
// sluice's correctness depends on (not overridable).

#include "config/config.h"
#include "kafka/client.h"

namespace sluice::kafka {

enum class ClientRole {
  EngineConsumer,  // the daemon's group member
  EngineProducer,  // the daemon's one producer (transactional with delivery: exactly_once)
  ReplayConsumer,  // `sluice replay`: assigned partitions, never joins the group
  ReplayProducer,
  TopicAdmin,  // the start-up topic check (topic_check.h): metadata and CreateTopics only
};

Properties client_properties(const config::KafkaConfig& kafka, ClientRole role);

}  // namespace sluice::kafka
