#include "bench/bench_kafka.h"

#include <chrono>
#include <stdexcept>
#include <thread>

namespace sluice::bench {

using namespace std::chrono_literals;

kafka::HandlePtr make_client(rd_kafka_type_t type, const std::map<std::string, std::string>& properties,
                             rd_kafka_conf_t* conf) {
  if (conf == nullptr) conf = rd_kafka_conf_new();
  char error[512];
  for (const auto& [name, value] : properties) {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), error, sizeof error) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      throw std::runtime_error(name + ": " + error);
    }
  }
  rd_kafka_t* handle = rd_kafka_new(type, conf, error, sizeof error);
  if (handle == nullptr) {
    rd_kafka_conf_destroy(conf);
    throw std::runtime_error(std::string("rd_kafka_new: ") + error);
  }
  return kafka::HandlePtr(handle);
}

EndOffsetWatcher::EndOffsetWatcher(const std::string& bootstrap, const std::map<std::string, int>& topics)
    : handle_(make_client(RD_KAFKA_CONSUMER, {{"bootstrap.servers", bootstrap}, {"log_level", "3"}})),
      topics_(topics) {}

int64_t EndOffsetWatcher::total() {
  kafka::PartitionListPtr list(rd_kafka_topic_partition_list_new(64));
  for (const auto& [topic, partitions] : topics_) {
    for (int partition = 0; partition < partitions; ++partition) {
      rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), partition)->offset = RD_KAFKA_OFFSET_END;
    }
  }
  if (rd_kafka_offsets_for_times(handle_.get(), list.get(), 5000) != RD_KAFKA_RESP_ERR_NO_ERROR) return -1;
  int64_t sum = 0;
  for (int i = 0; i < list->cnt; ++i) {
    if (list->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR || list->elems[i].offset < 0) return -1;
    sum += list->elems[i].offset;
  }
  return sum;
}

void commit_start_offsets(const std::string& bootstrap, const std::string& group,
                          const std::map<std::string, int>& topics) {
  kafka::HandlePtr handle = make_client(RD_KAFKA_CONSUMER, {{"bootstrap.servers", bootstrap},
                                                            {"group.id", group},
                                                            {"enable.auto.commit", "false"},
                                                            {"log_level", "3"}});
  kafka::PartitionListPtr list(rd_kafka_topic_partition_list_new(64));
  for (const auto& [topic, partitions] : topics) {
    for (int partition = 0; partition < partitions; ++partition) {
      rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), partition)->offset = 0;
    }
  }
  rd_kafka_resp_err_t error = RD_KAFKA_RESP_ERR_NO_ERROR;
  // The group coordinator may take a moment to be known right after the broker started.
  for (int attempt = 0; attempt < 50; ++attempt) {
    error = rd_kafka_commit(handle.get(), list.get(), 0);
    if (error == RD_KAFKA_RESP_ERR_NO_ERROR) break;
    std::this_thread::sleep_for(100ms);
  }
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw std::runtime_error(std::string("committing start offsets: ") + rd_kafka_err2str(error));
  }
  rd_kafka_consumer_close(handle.get());
}

}  // namespace sluice::bench
