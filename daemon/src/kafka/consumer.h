#pragma once
// librdkafka's group consumer behind ConsumerApi. It owns the client, its consumer queue and
// the rebalance protocol (eager or cooperative, whichever the group uses), and turns
// librdkafka's callbacks into ConsumerListener calls, so nothing above it sees rd_kafka_t.
//
// Stop: close() leaves the group in a bounded time (librdkafka's own close waits as long as
// the group takes); the destructor then destroys the client without closing it again.

#include <memory>
#include <string>
#include <vector>

#include "kafka/client.h"
#include "kafka/consumer_api.h"
#include "kafka/fetch_waker.h"

namespace sluice::kafka {

class KafkaConsumer final : public ConsumerApi {
 public:
  // Every property librdkafka refuses is appended to `errors` (nullptr returned).
  static std::unique_ptr<KafkaConsumer> create(const Properties& properties, std::vector<std::string>& errors);
  ~KafkaConsumer() override;

  void set_listener(ConsumerListener* listener) override { listener_ = listener; }
  void enable_wake(int fd) override;
  rd_kafka_resp_err_t subscribe(const std::vector<std::string>& topics) override;
  size_t poll_batch(std::vector<Message>& out, size_t max) override;
  void pause(const std::vector<TopicPartition>& partitions) override;
  void resume(const std::vector<TopicPartition>& partitions) override;
  rd_kafka_resp_err_t commit_async(const std::vector<PartitionOffset>& offsets) override;
  rd_kafka_resp_err_t commit_sync(std::vector<PartitionOffset>& offsets, std::chrono::milliseconds timeout) override;
  rd_kafka_resp_err_t committed(std::vector<PartitionOffset>& partitions, std::chrono::milliseconds timeout) override;
  rd_kafka_resp_err_t seek(const std::vector<PartitionOffset>& positions, std::chrono::milliseconds timeout) override;
  GroupMetadata group_metadata() override;
  std::optional<Watermarks> cached_watermarks(const TopicPartition& partition) override;
  std::optional<Watermarks> query_watermarks(const TopicPartition& partition, std::chrono::milliseconds timeout) override;
  void wake_fetchers() override { fetch_waker_->request(); }
  rd_kafka_resp_err_t close(std::chrono::milliseconds timeout) override;

 private:
  KafkaConsumer() = default;
  static void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t error, rd_kafka_topic_partition_list_t* partitions,
                           void* opaque);
  static void on_offset_commit(rd_kafka_t* rk, rd_kafka_resp_err_t error, rd_kafka_topic_partition_list_t* offsets,
                               void* opaque);
  void handle_rebalance(rd_kafka_resp_err_t error, rd_kafka_topic_partition_list_t* partitions);

  ConsumerListener* listener_ = nullptr;
  std::string group_id_;
  ClientContext context_;  // must outlive handle_ (declared before it)
  HandlePtr handle_;
  QueuePtr queue_;
  std::vector<rd_kafka_message_t*> batch_;
  std::unique_ptr<FetchWaker> fetch_waker_;  // uses handle_: reset first in the destructor
  bool closed_ = false;
};

// librdkafka's list form of `offsets` / `partitions` (offset -1001 where none is given).
PartitionListPtr to_list(const std::vector<PartitionOffset>& offsets);
PartitionListPtr to_list(const std::vector<TopicPartition>& partitions);
std::vector<PartitionOffset> from_list(const rd_kafka_topic_partition_list_t& list);

}  // namespace sluice::kafka
