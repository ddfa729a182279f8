#include "devbroker/mock_cluster.h"

#include <cstring>

#include "common/log.h"

namespace sluice::devbroker {
namespace {

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
};

// Runs on librdkafka's threads; sluice::log is thread-safe. Levels are syslog's.
void forward_log(const rd_kafka_t*, int level, const char* facility, const char* message) {
  // The handle has no bootstrap.servers on purpose; its configuration warning is noise.
  if (std::strcmp(facility, "CONFWARN") == 0) return;
  log::Fields fields = {{"facility", facility}, {"message", message}};
  if (level <= 3) {
    log::error("librdkafka error", fields);
  } else if (level == 4) {
    log::warn("librdkafka warning", fields);
  } else if (level <= 6) {
    log::info("librdkafka notice", fields);
  } else {
    log::debug("librdkafka debug", fields);
  }
}

}  // namespace

std::unique_ptr<MockCluster> MockCluster::create(int broker_count, std::string* error) {
  std::unique_ptr<rd_kafka_conf_t, ConfDeleter> conf(rd_kafka_conf_new());
  char errstr[512];
  if (rd_kafka_conf_set(conf.get(), "client.id", "sluice-devbroker", errstr, sizeof errstr) !=
      RD_KAFKA_CONF_OK) {
    *error = errstr;
    return nullptr;
  }
  rd_kafka_conf_set_log_cb(conf.get(), forward_log);

  // The handle never connects anywhere: it exists because the mock cluster needs one for
  // its logging and timers. On success rd_kafka_new takes ownership of the configuration.
  ClientHandle client(rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), errstr, sizeof errstr));
  if (!client) {
    *error = std::string("cannot create the librdkafka handle: ") + errstr;
    return nullptr;
  }
  conf.release();

  ClusterHandle cluster(rd_kafka_mock_cluster_new(client.get(), broker_count));
  if (!cluster) {
    *error = "cannot create the mock cluster (listening sockets on 127.0.0.1 unavailable?)";
    return nullptr;
  }
  return std::unique_ptr<MockCluster>(new MockCluster(std::move(client), std::move(cluster), broker_count));
}

MockCluster::MockCluster(ClientHandle client, ClusterHandle cluster, int broker_count)
    : client_(std::move(client)),
      cluster_(std::move(cluster)),
      broker_count_(broker_count),
      bootstrap_servers_(rd_kafka_mock_cluster_bootstraps(cluster_.get())) {}

rd_kafka_resp_err_t MockCluster::create_topic(const std::string& topic, int partitions) {
  // The replication factor is ignored by the 2.0.2 mock (replicas are min(3, brokers)).
  return rd_kafka_mock_topic_create(cluster_.get(), topic.c_str(), partitions, 1);
}

void MockCluster::set_topic_error(const std::string& topic, rd_kafka_resp_err_t err) {
  rd_kafka_mock_topic_set_error(cluster_.get(), topic.c_str(), err);
}

rd_kafka_resp_err_t MockCluster::set_broker_up(int32_t broker, bool up) {
  return up ? rd_kafka_mock_broker_set_up(cluster_.get(), broker)
            : rd_kafka_mock_broker_set_down(cluster_.get(), broker);
}

rd_kafka_resp_err_t MockCluster::set_broker_rtt(int32_t broker, int rtt_ms) {
  return rd_kafka_mock_broker_set_rtt(cluster_.get(), broker, rtt_ms);
}

void MockCluster::push_request_errors(int16_t api_key, std::span<const rd_kafka_resp_err_t> errors) {
  rd_kafka_mock_push_request_errors_array(cluster_.get(), api_key, errors.size(), errors.data());
}

rd_kafka_resp_err_t MockCluster::push_broker_request_error(int32_t broker, int16_t api_key,
                                                           rd_kafka_resp_err_t err, int rtt_ms) {
  return rd_kafka_mock_broker_push_request_error_rtts(cluster_.get(), broker, api_key, 1, err, rtt_ms);
}

void MockCluster::clear_request_errors(int16_t api_key) {
  rd_kafka_mock_clear_request_errors(cluster_.get(), api_key);
}

rd_kafka_resp_err_t MockCluster::set_partition_leader(const std::string& topic, int32_t partition,
                                                      int32_t broker) {
  return rd_kafka_mock_partition_set_leader(cluster_.get(), topic.c_str(), partition, broker);
}

rd_kafka_resp_err_t MockCluster::set_coordinator(const std::string& key_type, const std::string& key,
                                                 int32_t broker) {
  return rd_kafka_mock_coordinator_set(cluster_.get(), key_type.c_str(), key.c_str(), broker);
}

}  // namespace sluice::devbroker
