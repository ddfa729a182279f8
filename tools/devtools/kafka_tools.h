#pragma once
// Plain librdkafka clients for tests, the demo and the benchmarks: produce records exactly as
// given, read a whole topic back (all partitions, from the beginning to the high watermark, no
// consumer group), and read a group's committed offsets and a topic's end offsets.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kafka/handles.h"

namespace sluice::devtools {

struct KafkaRecord {
  std::string topic;
  int32_t partition = -1;  // -1: let the partitioner pick (by key)
  int64_t offset = -1;
  int64_t timestamp_ms = -1;  // as consumed (the producer's create time); not used when producing
  std::optional<std::string> key;
  std::optional<std::string> value;  // nullopt: a tombstone
  std::vector<std::pair<std::string, std::string>> headers;

  std::optional<std::string> header(const std::string& name) const {
    std::optional<std::string> found;
    for (const auto& [key_name, header_value] : headers) {
      if (key_name == name) found = header_value;  // the last one, as librdkafka's lookup does
    }
    return found;
  }
};

class RecordProducer {
 public:
  explicit RecordProducer(const std::string& bootstrap);
  ~RecordProducer();
  void produce(const KafkaRecord& record);
  // Waits until every record is acknowledged; throws if any failed.
  void flush();

 private:
  kafka::HandlePtr handle_;
  int failures_ = 0;
  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque);
};

int partition_count(const std::string& bootstrap, const std::string& topic);

// Every record of `topic` up to the current high watermarks, ordered by partition, offset.
std::vector<KafkaRecord> read_topic(const std::string& bootstrap, const std::string& topic);

// partition → committed offset of `group` for `topic` (partitions with no commit omitted).
std::map<int32_t, int64_t> committed_offsets(const std::string& bootstrap, const std::string& group,
                                             const std::string& topic, int partitions);
// partition → high watermark.
std::map<int32_t, int64_t> end_offsets(const std::string& bootstrap, const std::string& topic, int partitions);
// Whether `group` has committed every record of `topics` up to the current high watermarks.
bool group_caught_up(const std::string& bootstrap, const std::string& group, const std::vector<std::string>& topics);

}  // namespace sluice::devtools
