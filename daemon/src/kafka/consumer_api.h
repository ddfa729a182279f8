#pragma once
// The engine's view of its Kafka consumer: a group member that hands out records, pauses and
// resumes partitions, commits offsets and tells of rebalances. KafkaConsumer (consumer.h) is
// librdkafka's; tests drive the engine with a fake that records every call.
//
// Threading: every call on the engine thread, except query_watermarks(), which is safe from
// any thread (it is made from a thread of its own so that a broker round trip never holds up
// the engine). Listener callbacks come from within poll_batch() and commit(), on the engine
// thread.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kafka/handles.h"
#include "kafka/message.h"

namespace sluice::kafka {

struct TopicPartition {
  std::string topic;
  int32_t partition = 0;
  auto operator<=>(const TopicPartition&) const = default;
};

struct Watermarks {
  int64_t low = 0;   // the oldest offset the partition still has
  int64_t high = 0;  // one past the newest
};

struct PartitionOffset {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = -1001;  // RD_KAFKA_OFFSET_INVALID: none
  rd_kafka_resp_err_t error = RD_KAFKA_RESP_ERR_NO_ERROR;
};

// What a transactional offset commit carries so that the broker can refuse it from a member
// that is no longer in the group (a zombie): the group's generation and our member id, as
// the consumer knows them now. Taken fresh for every commit: metadata taken before the group
// was joined has generation -1 and no member id, which the broker cannot check.
struct GroupMetadata {
  GroupMetadataPtr handle;  // librdkafka's; null from a fake consumer
  std::string group_id;
  int32_t generation_id = -1;  // -1 where the consumer does not tell (librdkafka keeps it opaque)
  std::string member_id;
};

class ConsumerListener {
 public:
  virtual ~ConsumerListener() = default;
  // Partitions were added to the assignment (already assigned when this is called).
  virtual void on_assigned(const std::vector<TopicPartition>& partitions) = 0;
  // Partitions are about to leave the assignment. `lost`: the group already gave them to
  // someone else (session timeout, fencing), so nothing may be committed for them.
  virtual void on_revoked(const std::vector<TopicPartition>& partitions, bool lost) = 0;
  // The result of an asynchronous commit (error set per entry or for all).
  virtual void on_commit_result(rd_kafka_resp_err_t error, const std::vector<PartitionOffset>& offsets) = 0;
  // A client-level error; `fatal`: the client is unusable.
  virtual void on_client_error(rd_kafka_resp_err_t error, const std::string& reason, bool fatal) = 0;
};

class ConsumerApi {
 public:
  virtual ~ConsumerApi() = default;

  // Set once, before subscribe(); outlives the consumer's use.
  virtual void set_listener(ConsumerListener* listener) = 0;
  // Write one byte to `fd` whenever records or events become available (poll() on a pipe).
  virtual void enable_wake(int fd) = 0;
  virtual rd_kafka_resp_err_t subscribe(const std::vector<std::string>& topics) = 0;

  // Appends up to `max` records (and error events) without waiting; serves the listener's
  // callbacks. Returns how many were appended.
  virtual size_t poll_batch(std::vector<Message>& out, size_t max) = 0;

  virtual void pause(const std::vector<TopicPartition>& partitions) = 0;
  virtual void resume(const std::vector<TopicPartition>& partitions) = 0;

  // Commits `offsets`. Asynchronous: the result comes through on_commit_result (the return
  // value only says whether it was sent). Synchronous: waits at most `timeout` and sets each
  // entry's error.
  virtual rd_kafka_resp_err_t commit_async(const std::vector<PartitionOffset>& offsets) = 0;
  virtual rd_kafka_resp_err_t commit_sync(std::vector<PartitionOffset>& offsets, std::chrono::milliseconds timeout) = 0;
  // Fills each entry's committed offset (RD_KAFKA_OFFSET_INVALID: none).
  virtual rd_kafka_resp_err_t committed(std::vector<PartitionOffset>& partitions, std::chrono::milliseconds timeout) = 0;
  // Moves the fetch positions.
  virtual rd_kafka_resp_err_t seek(const std::vector<PartitionOffset>& positions, std::chrono::milliseconds timeout) = 0;

  virtual GroupMetadata group_metadata() = 0;

  // The watermarks as last seen by fetches (no broker round trip); nullopt when unknown.
  virtual std::optional<Watermarks> cached_watermarks(const TopicPartition& partition) = 0;
  // Asks the partition's leader (a round trip of at most `timeout`); any thread.
  virtual std::optional<Watermarks> query_watermarks(const TopicPartition& partition,
                                                     std::chrono::milliseconds timeout) = 0;

  // The prefetch queue was drained after it had filled up: makes sure the fetchers look again
  // now rather than up to a second later (fetch_waker.h). Returns at once.
  virtual void wake_fetchers() = 0;

  // Leaves the group, waiting at most `timeout` (rebalance callbacks are served meanwhile).
  // Afterwards the consumer only needs destroying, which then does not wait for the group.
  virtual rd_kafka_resp_err_t close(std::chrono::milliseconds timeout) = 0;
};

}  // namespace sluice::kafka
