#include "kafka/property_check.h"

#include <librdkafka/rdkafka.h>

#include <set>
#include <string>

#include "kafka/client_properties.h"
#include "kafka/handles.h"

namespace sluice::kafka {
namespace {

struct Role {
  ClientRole role;
  rd_kafka_type_t type;
  bool producer;
};

constexpr Role kEngineRoles[] = {
    {ClientRole::EngineConsumer, RD_KAFKA_CONSUMER, false},
    {ClientRole::EngineProducer, RD_KAFKA_PRODUCER, true},
};

// The config key a client property came from: the role's own map wins over `properties`
// (as in client_properties()); the rest sluice sets from keys of its own.
std::string source_key(const config::KafkaConfig& kafka, const std::string& name, bool producer) {
  const config::StringMap& own = producer ? kafka.producer_properties : kafka.consumer_properties;
  if (own.count(name) != 0) return std::string(producer ? "kafka.producer_properties." : "kafka.consumer_properties.") + name;
  if (kafka.properties.count(name) != 0) return "kafka.properties." + name;
  if (name == "bootstrap.servers") return "kafka.brokers";
  if (name == "group.id") return "kafka.group_id";
  if (name == "client.id") return "kafka.client_id";
  if (name == "transactional.id") return "kafka.transactional_id";
  return "kafka";
}

}  // namespace

void check_client_properties(const config::Config& config, std::vector<config::Problem>& problems) {
  const config::KafkaConfig& kafka = config.kafka;
  std::set<std::string> reported;  // a bad entry of `properties` is refused by both clients
  auto report = [&](std::string path, std::string message) {
    if (reported.insert(path + "\n" + message).second) problems.push_back({std::move(path), std::move(message)});
  };
  for (const Role& role : kEngineRoles) {
    ConfPtr conf(rd_kafka_conf_new());
    char error_text[512];
    bool all_set = true;
    for (const auto& [name, value] : client_properties(kafka, role.role)) {
      // Without brokers the throwaway client below has nobody to connect to.
      if (name == "bootstrap.servers") continue;
      if (rd_kafka_conf_set(conf.get(), name.c_str(), value.c_str(), error_text, sizeof error_text) != RD_KAFKA_CONF_OK) {
        report(source_key(kafka, name, role.producer), std::string("librdkafka: ") + error_text);
        all_set = false;
      }
    }
    if (!all_set) continue;
    // Creating the client checks what only makes sense together (conflicting properties, TLS
    // files that hold no certificate or key). rd_kafka_new takes `conf` only on success.
    rd_kafka_conf_set_log_cb(conf.get(), [](const rd_kafka_t*, int, const char*, const char*) {});
    HandlePtr client(rd_kafka_new(role.type, conf.get(), error_text, sizeof error_text));
    if (!client) {
      report(role.producer && !kafka.producer_properties.empty() ? "kafka.producer_properties"
             : !role.producer && !kafka.consumer_properties.empty() ? "kafka.consumer_properties"
                                                                    : "kafka.properties",
             std::string("librdkafka refuses the ") + (role.producer ? "producer" : "consumer") + "'s properties: " +
                 error_text);
      continue;
    }
    (void)conf.release();  // the client owns it now and destroys it with itself
  }
}

}  // namespace sluice::kafka
