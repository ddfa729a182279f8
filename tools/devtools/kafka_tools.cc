#include "devtools/kafka_tools.h"

#include <algorithm>
#include <stdexcept>

namespace sluice::devtools {
namespace {

kafka::HandlePtr make_handle(rd_kafka_type_t type, const std::map<std::string, std::string>& properties,
                             void (*dr)(rd_kafka_t*, const rd_kafka_message_t*, void*) = nullptr, void* opaque = nullptr) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char error[512];
  for (const auto& [name, value] : properties) {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), error, sizeof error) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      throw std::runtime_error(name + ": " + error);
    }
  }
  if (dr != nullptr) rd_kafka_conf_set_dr_msg_cb(conf, dr);
  if (opaque != nullptr) rd_kafka_conf_set_opaque(conf, opaque);
  rd_kafka_t* handle = rd_kafka_new(type, conf, error, sizeof error);
  if (handle == nullptr) {
    rd_kafka_conf_destroy(conf);
    throw std::runtime_error(std::string("rd_kafka_new: ") + error);
  }
  return kafka::HandlePtr(handle);
}

constexpr int kTimeoutMs = 10'000;

}  // namespace

RecordProducer::RecordProducer(const std::string& bootstrap) {
  handle_ = make_handle(RD_KAFKA_PRODUCER,
                        {{"bootstrap.servers", bootstrap},
                         {"linger.ms", "1"},
                         {"enable.idempotence", "true"},
                         {"message.max.bytes", "10000000"},
                         {"log_level", "3"}},
                        &RecordProducer::on_delivery, this);
}

RecordProducer::~RecordProducer() = default;

void RecordProducer::on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
  if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) static_cast<RecordProducer*>(opaque)->failures_ += 1;
}

void RecordProducer::produce(const KafkaRecord& record) {
  rd_kafka_headers_t* headers = rd_kafka_headers_new(record.headers.size() + 1);
  for (const auto& [name, value] : record.headers) {
    rd_kafka_header_add(headers, name.c_str(), -1, value.data(), static_cast<ssize_t>(value.size()));
  }
  // librdkafka's V_ macros cast their arguments without parentheses: compute them first.
  const void* key = record.key ? record.key->data() : nullptr;
  size_t key_size = record.key ? record.key->size() : 0;
  void* value = record.value ? const_cast<char*>(record.value->data()) : nullptr;
  size_t value_size = record.value ? record.value->size() : 0;
  while (true) {
    rd_kafka_resp_err_t error = rd_kafka_producev(
        handle_.get(), RD_KAFKA_V_TOPIC(record.topic.c_str()), RD_KAFKA_V_PARTITION(record.partition),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(key, key_size), RD_KAFKA_V_VALUE(value, value_size),
        RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_END);
    if (error == RD_KAFKA_RESP_ERR_NO_ERROR) return;
    if (error != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_headers_destroy(headers);
      throw std::runtime_error(std::string("produce: ") + rd_kafka_err2str(error));
    }
    rd_kafka_poll(handle_.get(), 50);
  }
}

void RecordProducer::flush() {
  if (rd_kafka_flush(handle_.get(), 60'000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw std::runtime_error("producer flush timed out");
  }
  if (failures_ > 0) throw std::runtime_error(std::to_string(failures_) + " test records failed");
}

std::map<int32_t, int64_t> end_offsets(const std::string& bootstrap, const std::string& topic, int partitions) {
  kafka::HandlePtr consumer = make_handle(RD_KAFKA_CONSUMER, {{"bootstrap.servers", bootstrap},
                                                              {"group.id", "sluice-devtools-reader"},
                                                              {"log_level", "3"}});
  std::map<int32_t, int64_t> result;
  for (int32_t partition = 0; partition < partitions; ++partition) {
    int64_t low = 0, high = 0;
    rd_kafka_resp_err_t error =
        rd_kafka_query_watermark_offsets(consumer.get(), topic.c_str(), partition, &low, &high, kTimeoutMs);
    if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw std::runtime_error("watermarks of " + topic + ": " + rd_kafka_err2str(error));
    }
    result[partition] = high;
  }
  return result;
}

int partition_count(const std::string& bootstrap, const std::string& topic) {
  kafka::HandlePtr handle = make_handle(RD_KAFKA_CONSUMER, {{"bootstrap.servers", bootstrap},
                                                            {"group.id", "sluice-devtools-reader"},
                                                            {"log_level", "3"}});
  const rd_kafka_metadata_t* metadata = nullptr;
  rd_kafka_topic_t* topic_handle = rd_kafka_topic_new(handle.get(), topic.c_str(), nullptr);
  rd_kafka_resp_err_t error = rd_kafka_metadata(handle.get(), 0, topic_handle, &metadata, kTimeoutMs);
  rd_kafka_topic_destroy(topic_handle);
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR || metadata->topic_cnt != 1) {
    if (metadata != nullptr) rd_kafka_metadata_destroy(metadata);
    throw std::runtime_error("metadata of " + topic + ": " + rd_kafka_err2str(error));
  }
  int partitions = metadata->topics[0].partition_cnt;
  rd_kafka_metadata_destroy(metadata);
  return partitions;
}

std::vector<KafkaRecord> read_topic(const std::string& bootstrap, const std::string& topic) {
  kafka::HandlePtr handle = make_handle(RD_KAFKA_CONSUMER, {{"bootstrap.servers", bootstrap},
                                                            {"group.id", "sluice-devtools-reader"},
                                                            {"enable.auto.commit", "false"},
                                                            {"fetch.wait.max.ms", "10"},
                                                            {"log_level", "3"}});
  int partitions = partition_count(bootstrap, topic);
  // Start each partition at its explicit low watermark, read on this handle: the handle then
  // knows the leaders, and an explicit offset needs no offset query (librdkafka retries a
  // "BEGINNING" query only after 500 ms when the leader is not known yet).
  std::map<int32_t, int64_t> ends;
  kafka::PartitionListPtr assignment(rd_kafka_topic_partition_list_new(partitions));
  size_t expected = 0;
  for (int32_t partition = 0; partition < partitions; ++partition) {
    int64_t low = 0, high = 0;
    rd_kafka_resp_err_t error =
        rd_kafka_query_watermark_offsets(handle.get(), topic.c_str(), partition, &low, &high, kTimeoutMs);
    if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw std::runtime_error("watermarks of " + topic + ": " + rd_kafka_err2str(error));
    }
    ends[partition] = high;
    if (high > low) {
      rd_kafka_topic_partition_list_add(assignment.get(), topic.c_str(), partition)->offset = low;
      expected += static_cast<size_t>(high - low);
    }
  }
  std::vector<KafkaRecord> records;
  if (expected == 0) return records;
  rd_kafka_assign(handle.get(), assignment.get());
  std::map<int32_t, int64_t> next;
  for (int i = 0; i < assignment->cnt; ++i) next[assignment->elems[i].partition] = assignment->elems[i].offset;
  auto done = [&] {
    for (int i = 0; i < assignment->cnt; ++i) {
      int32_t partition = assignment->elems[i].partition;
      if (next[partition] < ends[partition]) return false;
    }
    return true;
  };
  int idle_polls = 0;
  while (!done()) {
    rd_kafka_message_t* raw = rd_kafka_consumer_poll(handle.get(), 100);
    if (raw == nullptr) {
      if (++idle_polls > 300) throw std::runtime_error("timed out reading " + topic);
      continue;
    }
    kafka::MessagePtr message(raw);
    if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) continue;
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw std::runtime_error("reading " + topic + ": " + rd_kafka_message_errstr(message.get()));
    }
    KafkaRecord record;
    record.topic = topic;
    record.partition = message->partition;
    record.offset = message->offset;
    rd_kafka_timestamp_type_t timestamp_type;
    record.timestamp_ms = rd_kafka_message_timestamp(message.get(), &timestamp_type);
    if (message->key != nullptr) record.key = std::string(static_cast<const char*>(message->key), message->key_len);
    if (message->payload != nullptr) {
      record.value = std::string(static_cast<const char*>(message->payload), message->len);
    }
    rd_kafka_headers_t* headers = nullptr;
    if (rd_kafka_message_headers(message.get(), &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      const char* name;
      const void* value;
      size_t size;
      for (size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
        record.headers.emplace_back(name, value != nullptr ? std::string(static_cast<const char*>(value), size) : "");
      }
    }
    next[message->partition] = message->offset + 1;
    if (message->offset < ends[message->partition]) records.push_back(std::move(record));
  }
  rd_kafka_consumer_close(handle.get());
  std::stable_sort(records.begin(), records.end(), [](const KafkaRecord& a, const KafkaRecord& b) {
    return a.partition != b.partition ? a.partition < b.partition : a.offset < b.offset;
  });
  return records;
}

std::map<int32_t, int64_t> committed_offsets(const std::string& bootstrap, const std::string& group,
                                             const std::string& topic, int partitions) {
  kafka::HandlePtr consumer = make_handle(RD_KAFKA_CONSUMER, {{"bootstrap.servers", bootstrap},
                                                              {"group.id", group},
                                                              {"enable.auto.commit", "false"},
                                                              {"log_level", "3"}});
  kafka::PartitionListPtr list(rd_kafka_topic_partition_list_new(partitions));
  for (int32_t partition = 0; partition < partitions; ++partition) {
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), partition);
  }
  rd_kafka_resp_err_t error = rd_kafka_committed(consumer.get(), list.get(), kTimeoutMs);
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) throw std::runtime_error(std::string("committed: ") + rd_kafka_err2str(error));
  std::map<int32_t, int64_t> result;
  for (int i = 0; i < list->cnt; ++i) {
    if (list->elems[i].offset >= 0) result[list->elems[i].partition] = list->elems[i].offset;
  }
  rd_kafka_destroy_flags(consumer.release(), RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
  return result;
}

bool group_caught_up(const std::string& bootstrap, const std::string& group, const std::vector<std::string>& topics) {
  for (const std::string& topic : topics) {
    const int partitions = partition_count(bootstrap, topic);
    std::map<int32_t, int64_t> committed = committed_offsets(bootstrap, group, topic, partitions);
    for (const auto& [partition, end] : end_offsets(bootstrap, topic, partitions)) {
      if (end > 0 && (committed.count(partition) == 0 || committed[partition] < end)) return false;
    }
  }
  return true;
}

}  // namespace sluice::devtools
