#pragma once
// Kafka clients the bench drives itself: client construction, watching output end offsets,
// and committing start offsets for a group.

#include <cstdint>
#include <map>
#include <string>

#include <librdkafka/rdkafka.h>

#include "kafka/handles.h"

namespace sluice::bench {

// A client with `properties` set on `conf` (a new one when null); throws on a bad property.
kafka::HandlePtr make_client(rd_kafka_type_t type, const std::map<std::string, std::string>& properties,
                             rd_kafka_conf_t* conf = nullptr);

// Sums the end offsets of whole topics with one ListOffsets request per poll, so watching
// progress costs the broker next to nothing.
class EndOffsetWatcher {
 public:
  EndOffsetWatcher(const std::string& bootstrap, const std::map<std::string, int>& topics);
  // -1 when the broker did not answer in time.
  int64_t total();

 private:
  kafka::HandlePtr handle_;
  std::map<std::string, int> topics_;
};

// Commits offset 0 for `group` on every partition of `topics` without joining the group.
// With auto.offset.reset=error a group without committed offsets could not even start; with
// these, it starts at the beginning, and finds it gone only if the broker evicted it.
void commit_start_offsets(const std::string& bootstrap, const std::string& group,
                          const std::map<std::string, int>& topics);

}  // namespace sluice::bench
