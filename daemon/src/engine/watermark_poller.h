#pragma once
// Keeps the high watermark of paused partitions current. librdkafka's cached watermark moves
// only when a partition is fetched, so the lag of a paused partition — the very case the lag
// alert is for — would stop rising. A thread of its own asks the partitions' leaders every
// `interval` (a broker round trip the engine thread must not wait for).
//
// Threading: watch() and watermarks() on the engine thread; the queries on the poller's
// thread (ConsumerApi::query_watermarks is safe there). Stop: the destructor (or stop())
// wakes and joins the thread, at most one query's timeout later; before the consumer goes.

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "kafka/consumer_api.h"

namespace sluice::engine {

class WatermarkPoller {
 public:
  WatermarkPoller(kafka::ConsumerApi& consumer, std::chrono::milliseconds interval);
  ~WatermarkPoller() { stop(); }
  WatermarkPoller(const WatermarkPoller&) = delete;
  WatermarkPoller& operator=(const WatermarkPoller&) = delete;

  // The partitions to keep current from now on (results for others are dropped).
  void watch(std::vector<kafka::TopicPartition> partitions);
  // The last watermarks queried for `partition`, if it is watched and was answered.
  std::optional<kafka::Watermarks> watermarks(const kafka::TopicPartition& partition) const;
  // Also asks about `partition` each round while set (to see whether any broker answers
  // again after "all brokers down"; its answer is not kept). nullopt stops it.
  void set_ping(std::optional<kafka::TopicPartition> partition);
  // How many queries were answered so far (any partition): a rise means a broker answered.
  uint64_t answers() const;
  void stop();

 private:
  void loop();

  kafka::ConsumerApi& consumer_;
  const std::chrono::milliseconds interval_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<kafka::TopicPartition> watched_;       // guarded by mutex_
  std::map<kafka::TopicPartition, kafka::Watermarks> answers_;  // guarded by mutex_
  std::optional<kafka::TopicPartition> ping_;        // guarded by mutex_
  uint64_t answer_count_ = 0;                         // guarded by mutex_
  bool stopping_ = false;                             // guarded by mutex_
  bool added_ = false;  // a partition was added since the current round began; guarded by mutex_
  std::thread thread_;  // last: starts once everything above is initialised
};

}  // namespace sluice::engine
