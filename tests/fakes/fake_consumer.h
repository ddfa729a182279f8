#pragma once
// A group consumer for tests, reading a FakeCluster as a read_committed consumer would, that
// records every call. The test decides the group's life: assign() and revoke() queue a
// rebalance that the engine sees in its next poll_batch(), as librdkafka serves rebalance
// callbacks from its polls; a newly assigned partition starts at the group's committed offset
// (or 0). The member's generation is what it last heard from the group: a test can move the
// cluster's generation on without telling it, which makes it a zombie.
//
// The cached high watermark of a partition moves only when poll_batch() fetches it (paused
// partitions are not fetched), like librdkafka's; query_watermarks() asks the cluster, and is
// safe from another thread.
//
// Threading: one thread, except query_watermarks().

#include <atomic>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "fakes/fake_cluster.h"
#include "kafka/consumer_api.h"

namespace sluice::fakes {

class FakeConsumer final : public kafka::ConsumerApi {
 public:
  FakeConsumer(FakeCluster& cluster, std::string group_id, std::string member_id);

  // ---- what the test controls
  // Queues an assignment: the member joins generation `generation` (when -1: the cluster's at
  // the time the engine hears of it).
  void assign(std::vector<kafka::TopicPartition> partitions, int32_t generation = -1);
  // Queues a revocation; `lost`: the group already gave them away.
  void revoke(std::vector<kafka::TopicPartition> partitions, bool lost);
  // Queues a non-fatal client error (e.g. RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN).
  void report_error(rd_kafka_resp_err_t error);
  // As librdkafka with enable.partition.eof: an end-of-partition event each time a partition's
  // reader reaches its end (the last stable offset) at a new position.
  bool partition_eof = false;
  // The next this many query_watermarks() calls find no broker (nullopt).
  std::atomic<int> watermark_failures{0};

  // Everything assigned now (revoked ones excluded, queued events not yet applied).
  const std::set<kafka::TopicPartition>& assignment() const { return assigned_; }
  std::set<kafka::TopicPartition> paused() const { return paused_; }
  int32_t generation() const { return generation_; }
  const std::string& member_id() const { return member_id_; }
  bool closed() const { return closed_; }
  // Every call, in order (e.g. "pause inbound/0", "commit_async inbound/0@5").
  std::vector<std::string> calls;

  // ---- ConsumerApi
  void set_listener(kafka::ConsumerListener* listener) override { listener_ = listener; }
  void enable_wake(int) override {}
  rd_kafka_resp_err_t subscribe(const std::vector<std::string>& topics) override;
  size_t poll_batch(std::vector<kafka::Message>& out, size_t max) override;
  void pause(const std::vector<kafka::TopicPartition>& partitions) override;
  void resume(const std::vector<kafka::TopicPartition>& partitions) override;
  rd_kafka_resp_err_t commit_async(const std::vector<kafka::PartitionOffset>& offsets) override;
  rd_kafka_resp_err_t commit_sync(std::vector<kafka::PartitionOffset>& offsets, std::chrono::milliseconds timeout) override;
  rd_kafka_resp_err_t committed(std::vector<kafka::PartitionOffset>& partitions, std::chrono::milliseconds timeout) override;
  rd_kafka_resp_err_t seek(const std::vector<kafka::PartitionOffset>& positions, std::chrono::milliseconds timeout) override;
  kafka::GroupMetadata group_metadata() override;
  std::optional<kafka::Watermarks> cached_watermarks(const kafka::TopicPartition& partition) override;
  std::optional<kafka::Watermarks> query_watermarks(const kafka::TopicPartition& partition,
                                                    std::chrono::milliseconds timeout) override;
  void wake_fetchers() override { calls.push_back("wake_fetchers"); }
  rd_kafka_resp_err_t close(std::chrono::milliseconds timeout) override;

 private:
  struct Event {
    enum class Kind { Assign, Revoke, CommitResult, ClientError };
    Kind kind = Kind::Assign;
    std::vector<kafka::TopicPartition> partitions;
    bool lost = false;
    int32_t generation = -1;
    rd_kafka_resp_err_t error = RD_KAFKA_RESP_ERR_NO_ERROR;
    std::vector<kafka::PartitionOffset> offsets;
  };
  void serve_events();

  FakeCluster& cluster_;
  const std::string group_id_;
  const std::string member_id_;
  kafka::ConsumerListener* listener_ = nullptr;
  std::deque<Event> events_;
  std::set<kafka::TopicPartition> assigned_;
  std::set<kafka::TopicPartition> paused_;
  std::map<kafka::TopicPartition, int64_t> positions_;
  std::map<kafka::TopicPartition, int64_t> cached_high_;
  std::map<kafka::TopicPartition, int64_t> eof_at_;  // where the last end-of-partition event was
  int32_t generation_ = -1;
  size_t next_partition_ = 0;  // round-robin start of the next poll
  bool closed_ = false;
};

std::string describe(const kafka::TopicPartition& partition);

}  // namespace sluice::fakes
