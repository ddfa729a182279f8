#pragma once
// Recording doubles of the engine's Kafka seams and of a dedup store, for the pieces that
// talk to them (partition table, committers, watermark poller, dedup coordinator).

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "dedup/dedup_store.h"
#include "kafka/consumer_api.h"
#include "kafka/producer_api.h"

namespace sluice::engine::testing {

class RecordingConsumer final : public kafka::ConsumerApi {
 public:
  void set_listener(kafka::ConsumerListener* listener) override { this->listener = listener; }
  void enable_wake(int) override {}
  rd_kafka_resp_err_t subscribe(const std::vector<std::string>&) override { return RD_KAFKA_RESP_ERR_NO_ERROR; }
  size_t poll_batch(std::vector<kafka::Message>&, size_t) override { return 0; }

  // Only what the consumer is actually told: an empty list tells it nothing.
  void pause(const std::vector<kafka::TopicPartition>& partitions) override {
    if (!partitions.empty()) paused.push_back(sorted(partitions));
  }
  void resume(const std::vector<kafka::TopicPartition>& partitions) override {
    if (!partitions.empty()) resumed.push_back(sorted(partitions));
  }

  rd_kafka_resp_err_t commit_async(const std::vector<kafka::PartitionOffset>& offsets) override {
    async_commits.push_back(offsets);
    events.push_back("commit_async");
    return commit_async_answer;
  }
  rd_kafka_resp_err_t commit_sync(std::vector<kafka::PartitionOffset>& offsets, std::chrono::milliseconds) override {
    sync_commits.push_back(offsets);
    events.push_back("commit_sync");
    return commit_sync_answer;
  }
  rd_kafka_resp_err_t committed(std::vector<kafka::PartitionOffset>&, std::chrono::milliseconds) override {
    return RD_KAFKA_RESP_ERR_NO_ERROR;
  }
  rd_kafka_resp_err_t seek(const std::vector<kafka::PartitionOffset>&, std::chrono::milliseconds) override {
    return RD_KAFKA_RESP_ERR_NO_ERROR;
  }

  // As the group stands at the moment of the call.
  kafka::GroupMetadata group_metadata() override {
    group_metadata_calls += 1;
    kafka::GroupMetadata metadata;
    metadata.group_id = "sluice";
    metadata.generation_id = generation;
    metadata.member_id = member_id;
    return metadata;
  }

  std::optional<kafka::Watermarks> cached_watermarks(const kafka::TopicPartition&) override { return std::nullopt; }
  void wake_fetchers() override { events.push_back("wake_fetchers"); }

  // Any thread: answers from `marks`, counting every query; `hold` keeps a query of that
  // partition waiting until release() (to look at the poller while it asks).
  std::optional<kafka::Watermarks> query_watermarks(const kafka::TopicPartition& partition,
                                                    std::chrono::milliseconds) override {
    std::unique_lock<std::mutex> lock(mutex);
    queries[partition] += 1;
    changed.notify_all();
    changed.wait(lock, [&] { return !held || *held != partition; });
    auto it = marks.find(partition);
    if (it == marks.end()) return std::nullopt;
    return it->second;
  }
  void set_marks(const kafka::TopicPartition& partition, kafka::Watermarks value) {
    std::lock_guard<std::mutex> lock(mutex);
    marks[partition] = value;
  }
  void hold(const kafka::TopicPartition& partition) {
    std::lock_guard<std::mutex> lock(mutex);
    held = partition;
  }
  void release() {
    std::lock_guard<std::mutex> lock(mutex);
    held.reset();
    changed.notify_all();
  }
  // Waits (at most `timeout`) until `partition` was queried at least `count` times.
  bool wait_for_queries(const kafka::TopicPartition& partition, int count, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mutex);
    return changed.wait_for(lock, timeout, [&] { return queries[partition] >= count; });
  }
  int query_count(const kafka::TopicPartition& partition) {
    std::lock_guard<std::mutex> lock(mutex);
    return queries[partition];
  }

  rd_kafka_resp_err_t close(std::chrono::milliseconds) override { return RD_KAFKA_RESP_ERR_NO_ERROR; }

  kafka::ConsumerListener* listener = nullptr;
  std::vector<std::vector<kafka::TopicPartition>> paused;
  std::vector<std::vector<kafka::TopicPartition>> resumed;
  std::vector<std::vector<kafka::PartitionOffset>> async_commits;
  std::vector<std::vector<kafka::PartitionOffset>> sync_commits;
  rd_kafka_resp_err_t commit_async_answer = RD_KAFKA_RESP_ERR_NO_ERROR;
  rd_kafka_resp_err_t commit_sync_answer = RD_KAFKA_RESP_ERR_NO_ERROR;
  std::vector<std::string> events;  // commits, in order (shared with other doubles by the test)
  int32_t generation = -1;
  std::string member_id;
  int group_metadata_calls = 0;

  std::mutex mutex;
  std::condition_variable changed;
  std::map<kafka::TopicPartition, kafka::Watermarks> marks;
  std::map<kafka::TopicPartition, int> queries;
  std::optional<kafka::TopicPartition> held;

 private:
  static std::vector<kafka::TopicPartition> sorted(std::vector<kafka::TopicPartition> partitions) {
    std::sort(partitions.begin(), partitions.end());
    return partitions;
  }
};

class RecordingProducer final : public kafka::ProducerApi {
 public:
  void set_handlers(kafka::DeliveryHandler, kafka::ProducerErrorHandler) override {}
  void enable_wake(int) override {}
  rd_kafka_resp_err_t produce(kafka::OutboundRecord&) override { return RD_KAFKA_RESP_ERR_NO_ERROR; }
  void poll(std::chrono::milliseconds) override {}
  // Each flush acknowledges one outstanding output.
  int flush(std::chrono::milliseconds) override {
    calls.push_back("flush");
    if (outstanding_outputs > 0) outstanding_outputs -= 1;
    return outstanding_outputs;
  }
  int outstanding() const override { return outstanding_outputs; }
  void purge() override {}
  int64_t max_message_bytes() const override { return 1'000'000; }

  kafka::TxnResult init_transactions(std::chrono::milliseconds) override { return answer("init_transactions"); }
  kafka::TxnResult begin_transaction() override { return answer("begin_transaction"); }
  kafka::TxnResult send_offsets_to_transaction(const std::vector<kafka::PartitionOffset>& offsets,
                                               const kafka::GroupMetadata& group, std::chrono::milliseconds) override {
    sent_offsets.push_back(offsets);
    sent_generation.push_back(group.generation_id);
    sent_member_id.push_back(group.member_id);
    return answer("send_offsets_to_transaction");
  }
  kafka::TxnResult commit_transaction(std::chrono::milliseconds) override { return answer("commit_transaction"); }
  kafka::TxnResult abort_transaction(std::chrono::milliseconds) override { return answer("abort_transaction"); }

  // The next answers of a transactional call (success once none is left).
  std::map<std::string, std::deque<kafka::TxnError>> failures;
  std::vector<std::string> calls;
  std::vector<std::vector<kafka::PartitionOffset>> sent_offsets;
  std::vector<int32_t> sent_generation;
  std::vector<std::string> sent_member_id;
  int outstanding_outputs = 0;

  int count(const std::string& call) const { return static_cast<int>(std::count(calls.begin(), calls.end(), call)); }

 private:
  kafka::TxnResult answer(const std::string& call) {
    calls.push_back(call);
    auto& queue = failures[call];
    if (queue.empty()) return std::nullopt;
    kafka::TxnError error = queue.front();
    queue.pop_front();
    return error;
  }
};

inline kafka::TxnError txn_error(const char* name, bool retriable, bool abortable, bool fatal) {
  kafka::TxnError error;
  error.code = RD_KAFKA_RESP_ERR__STATE;
  error.name = name;
  error.text = name;
  error.retriable = retriable;
  error.abortable = abortable;
  error.fatal = fatal;
  return error;
}

// A dedup store that answers as told and records every call. Its tickets become durable
// only when the test says so (a store writing on a thread of its own), unless `synchronous`.
class RecordingDedupStore final : public dedup::DedupStore {
 public:
  std::string_view backend_name() const override { return "memory"; }
  void reserve(std::span<const dedup::Fingerprint> fingerprints, std::vector<dedup::ReserveStatus>& out) override {
    calls.push_back("reserve");
    reserved.emplace_back(fingerprints.begin(), fingerprints.end());
    out.clear();
    for (size_t i = 0; i < fingerprints.size(); ++i) {
      if (answers.empty()) {
        out.push_back(dedup::ReserveStatus::Reserved);
      } else {
        out.push_back(answers.front());
        answers.pop_front();
      }
    }
  }
  void confirm(std::span<const dedup::Fingerprint> fingerprints) override {
    calls.push_back("confirm");
    confirmed.insert(confirmed.end(), fingerprints.begin(), fingerprints.end());
  }
  void release(std::span<const dedup::Fingerprint> fingerprints) override {
    calls.push_back("release");
    released.insert(released.end(), fingerprints.begin(), fingerprints.end());
  }
  bool flush() override {
    calls.push_back("flush");
    if (events) events->push_back("dedup flush");
    return flush_answer;
  }
  uint64_t request_flush() override {
    calls.push_back("request_flush");
    issued += 1;
    if (synchronous) durable = issued;
    return issued;
  }
  uint64_t durable_ticket() override { return durable; }

  std::deque<dedup::ReserveStatus> answers;  // per fingerprint asked, in order; Reserved once empty
  std::vector<std::string> calls;
  std::vector<std::vector<dedup::Fingerprint>> reserved;
  std::vector<dedup::Fingerprint> confirmed;
  std::vector<dedup::Fingerprint> released;
  bool flush_answer = true;
  bool synchronous = true;
  uint64_t issued = 0;
  uint64_t durable = 0;
  std::vector<std::string>* events = nullptr;  // a log shared with other doubles, if set
};

}  // namespace sluice::engine::testing
