#pragma once
// Owns a librdkafka mock cluster listening on 127.0.0.1 (random ports; librdkafka 2.0.2 has
// no way to choose them) and the client handle it needs for bookkeeping.
//
// Threading: every method must be called from one thread. The mock runs its brokers on its
// own thread and applies most calls through a request queue, but the error-stack calls take
// its lock directly; a single caller keeps commands applied in the order they arrived.
//
// Stop: destruction tears down the listeners and every connection, and takes about a
// second inside librdkafka.

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

namespace sluice::devbroker {

class MockCluster {
 public:
  // nullptr with `error` set when librdkafka cannot create the client or the listeners.
  static std::unique_ptr<MockCluster> create(int broker_count, std::string* error);

  MockCluster(const MockCluster&) = delete;
  MockCluster& operator=(const MockCluster&) = delete;

  // Broker ids are 1..broker_count().
  int broker_count() const { return broker_count_; }
  // "127.0.0.1:PORT,127.0.0.1:PORT,..."
  const std::string& bootstrap_servers() const { return bootstrap_servers_; }

  rd_kafka_resp_err_t create_topic(const std::string& topic, int partitions);
  // Returned for Metadata (and AddPartitionsToTxn) on that topic; NO_ERROR clears it.
  // Creates the topic with the default 4 partitions when it does not exist.
  void set_topic_error(const std::string& topic, rd_kafka_resp_err_t err);

  // broker -1 means every broker.
  rd_kafka_resp_err_t set_broker_up(int32_t broker, bool up);
  rd_kafka_resp_err_t set_broker_rtt(int32_t broker, int rtt_ms);

  // Errors returned, in order, to the next requests of that API on any broker.
  void push_request_errors(int16_t api_key, std::span<const rd_kafka_resp_err_t> errors);
  // One error, answered after `rtt_ms`, to the next request of that API on one broker.
  rd_kafka_resp_err_t push_broker_request_error(int32_t broker, int16_t api_key, rd_kafka_resp_err_t err,
                                                int rtt_ms);
  // Empties the cluster-wide stack for that API; per-broker stacks are not touched
  // (librdkafka 2.0.2 has no call for them).
  void clear_request_errors(int16_t api_key);

  // broker -1 leaves the partition without a leader.
  rd_kafka_resp_err_t set_partition_leader(const std::string& topic, int32_t partition, int32_t broker);
  // key_type is "group" or "transaction".
  rd_kafka_resp_err_t set_coordinator(const std::string& key_type, const std::string& key, int32_t broker);

 private:
  struct ClientDeleter {
    void operator()(rd_kafka_t* client) const { rd_kafka_destroy(client); }
  };
  struct ClusterDeleter {
    void operator()(rd_kafka_mock_cluster_t* cluster) const { rd_kafka_mock_cluster_destroy(cluster); }
  };
  using ClientHandle = std::unique_ptr<rd_kafka_t, ClientDeleter>;
  using ClusterHandle = std::unique_ptr<rd_kafka_mock_cluster_t, ClusterDeleter>;

  MockCluster(ClientHandle client, ClusterHandle cluster, int broker_count);

  // Declared before cluster_, so it is destroyed after it: the cluster uses the client.
  ClientHandle client_;
  ClusterHandle cluster_;
  int broker_count_;
  std::string bootstrap_servers_;
};

}  // namespace sluice::devbroker
