#include "kafka/consumer.h"

#include <cstring>

#include "common/log.h"

namespace sluice::kafka {

PartitionListPtr to_list(const std::vector<PartitionOffset>& offsets) {
  PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size())));
  for (const PartitionOffset& entry : offsets) {
    rd_kafka_topic_partition_list_add(list.get(), entry.topic.c_str(), entry.partition)->offset = entry.offset;
  }
  return list;
}

PartitionListPtr to_list(const std::vector<TopicPartition>& partitions) {
  PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size())));
  for (const TopicPartition& entry : partitions) {
    rd_kafka_topic_partition_list_add(list.get(), entry.topic.c_str(), entry.partition);
  }
  return list;
}

std::vector<PartitionOffset> from_list(const rd_kafka_topic_partition_list_t& list) {
  std::vector<PartitionOffset> offsets;
  offsets.reserve(static_cast<size_t>(list.cnt));
  for (int i = 0; i < list.cnt; ++i) {
    const rd_kafka_topic_partition_t& entry = list.elems[i];
    offsets.push_back({entry.topic, entry.partition, entry.offset, entry.err});
  }
  return offsets;
}

namespace {

std::vector<TopicPartition> partitions_of(const rd_kafka_topic_partition_list_t& list) {
  std::vector<TopicPartition> partitions;
  partitions.reserve(static_cast<size_t>(list.cnt));
  for (int i = 0; i < list.cnt; ++i) partitions.push_back({list.elems[i].topic, list.elems[i].partition});
  return partitions;
}

void copy_results(const rd_kafka_topic_partition_list_t& list, std::vector<PartitionOffset>& offsets) {
  for (int i = 0; i < list.cnt && i < static_cast<int>(offsets.size()); ++i) {
    offsets[static_cast<size_t>(i)].offset = list.elems[i].offset;
    offsets[static_cast<size_t>(i)].error = list.elems[i].err;
  }
}

}  // namespace

std::unique_ptr<KafkaConsumer> KafkaConsumer::create(const Properties& properties, std::vector<std::string>& errors) {
  ConfPtr conf = make_conf(properties, errors);
  if (!errors.empty()) return nullptr;
  std::unique_ptr<KafkaConsumer> consumer(new KafkaConsumer());
  if (auto group = properties.find("group.id"); group != properties.end()) consumer->group_id_ = group->second;
  consumer->context_.owner = consumer.get();
  consumer->context_.on_error = [self = consumer.get()](rd_kafka_resp_err_t error, const std::string& reason, bool fatal) {
    if (self->listener_ != nullptr) {
      self->listener_->on_client_error(error, reason, fatal);
    } else {
      log::warn("kafka consumer error", {{"error", error_name(error)}, {"detail", reason}});
    }
  };
  rd_kafka_conf_set_rebalance_cb(conf.get(), &KafkaConsumer::on_rebalance);
  rd_kafka_conf_set_offset_commit_cb(conf.get(), &KafkaConsumer::on_offset_commit);
  std::string error;
  consumer->handle_ = make_client(RD_KAFKA_CONSUMER, std::move(conf), &consumer->context_, error);
  if (!consumer->handle_) {
    errors.push_back("consumer: " + error);
    return nullptr;
  }
  // Serve the consumer's callbacks (rebalance, commits, errors) from the consumer queue.
  rd_kafka_poll_set_consumer(consumer->handle_.get());
  consumer->queue_.reset(rd_kafka_queue_get_consumer(consumer->handle_.get()));
  consumer->fetch_waker_ = std::make_unique<FetchWaker>(
      [handle = consumer->handle_.get()](std::chrono::milliseconds timeout) { wake_fetchers_of(handle, timeout); });
  return consumer;
}

KafkaConsumer::~KafkaConsumer() {
  fetch_waker_.reset();  // its thread uses the client
  queue_.reset();
  // close() already left the group (or gave up after its timeout): destroying must not try
  // again, which would wait for the group without a bound.
  if (handle_) rd_kafka_destroy_flags(handle_.release(), RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
}

void KafkaConsumer::enable_wake(int fd) {
  // librdkafka writes one byte when the queue goes from empty to non-empty.
  static const char kWakeByte = 'k';
  rd_kafka_queue_io_event_enable(queue_.get(), fd, &kWakeByte, 1);
}

rd_kafka_resp_err_t KafkaConsumer::subscribe(const std::vector<std::string>& topics) {
  PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(topics.size())));
  for (const std::string& topic : topics) rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), RD_KAFKA_PARTITION_UA);
  return rd_kafka_subscribe(handle_.get(), list.get());
}

size_t KafkaConsumer::poll_batch(std::vector<Message>& out, size_t max) {
  if (batch_.size() < max) batch_.resize(max);
  ssize_t count = rd_kafka_consume_batch_queue(queue_.get(), 0, batch_.data(), max);
  if (count <= 0) return 0;
  for (ssize_t i = 0; i < count; ++i) out.emplace_back(batch_[static_cast<size_t>(i)]);
  return static_cast<size_t>(count);
}

void KafkaConsumer::pause(const std::vector<TopicPartition>& partitions) {
  if (partitions.empty()) return;
  rd_kafka_pause_partitions(handle_.get(), to_list(partitions).get());
}

void KafkaConsumer::resume(const std::vector<TopicPartition>& partitions) {
  if (partitions.empty()) return;
  rd_kafka_resume_partitions(handle_.get(), to_list(partitions).get());
}

rd_kafka_resp_err_t KafkaConsumer::commit_async(const std::vector<PartitionOffset>& offsets) {
  return rd_kafka_commit(handle_.get(), to_list(offsets).get(), 1);
}

rd_kafka_resp_err_t KafkaConsumer::commit_sync(std::vector<PartitionOffset>& offsets, std::chrono::milliseconds timeout) {
  // rd_kafka_commit() without async waits as long as the coordinator takes; a commit through
  // a queue of our own can be given up after `timeout` (its late result is then dropped).
  struct Result {
    bool done = false;
    rd_kafka_resp_err_t error = RD_KAFKA_RESP_ERR__TIMED_OUT;
    PartitionListPtr offsets;
  } result;
  QueuePtr queue(rd_kafka_queue_new(handle_.get()));
  PartitionListPtr list = to_list(offsets);
  rd_kafka_resp_err_t sent = rd_kafka_commit_queue(
      handle_.get(), list.get(), queue.get(),
      [](rd_kafka_t*, rd_kafka_resp_err_t error, rd_kafka_topic_partition_list_t* committed, void* opaque) {
        auto* result = static_cast<Result*>(opaque);
        result->done = true;
        result->error = error;
        if (committed != nullptr) result->offsets.reset(rd_kafka_topic_partition_list_copy(committed));
      },
      &result);
  if (sent != RD_KAFKA_RESP_ERR_NO_ERROR) return sent;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!result.done && std::chrono::steady_clock::now() < deadline) rd_kafka_queue_poll_callback(queue.get(), 50);
  if (result.offsets) copy_results(*result.offsets, offsets);
  return result.error;
}

rd_kafka_resp_err_t KafkaConsumer::committed(std::vector<PartitionOffset>& partitions, std::chrono::milliseconds timeout) {
  PartitionListPtr list = to_list(partitions);
  rd_kafka_resp_err_t error = rd_kafka_committed(handle_.get(), list.get(), static_cast<int>(timeout.count()));
  copy_results(*list, partitions);
  return error;
}

rd_kafka_resp_err_t KafkaConsumer::seek(const std::vector<PartitionOffset>& positions, std::chrono::milliseconds timeout) {
  ErrorPtr error(rd_kafka_seek_partitions(handle_.get(), to_list(positions).get(), static_cast<int>(timeout.count())));
  return error ? rd_kafka_error_code(error.get()) : RD_KAFKA_RESP_ERR_NO_ERROR;
}

GroupMetadata KafkaConsumer::group_metadata() {
  GroupMetadata metadata;
  metadata.handle.reset(rd_kafka_consumer_group_metadata(handle_.get()));
  metadata.group_id = group_id_;
  if (char* member = rd_kafka_memberid(handle_.get())) {
    metadata.member_id = member;
    rd_kafka_mem_free(handle_.get(), member);
  }
  return metadata;
}

std::optional<Watermarks> KafkaConsumer::cached_watermarks(const TopicPartition& partition) {
  Watermarks marks;
  if (rd_kafka_get_watermark_offsets(handle_.get(), partition.topic.c_str(), partition.partition, &marks.low,
                                     &marks.high) != RD_KAFKA_RESP_ERR_NO_ERROR ||
      marks.high < 0) {
    return std::nullopt;
  }
  return marks;
}

std::optional<Watermarks> KafkaConsumer::query_watermarks(const TopicPartition& partition,
                                                          std::chrono::milliseconds timeout) {
  Watermarks marks;
  if (rd_kafka_query_watermark_offsets(handle_.get(), partition.topic.c_str(), partition.partition, &marks.low,
                                       &marks.high, static_cast<int>(timeout.count())) != RD_KAFKA_RESP_ERR_NO_ERROR ||
      marks.high < 0) {
    return std::nullopt;
  }
  return marks;
}

rd_kafka_resp_err_t KafkaConsumer::close(std::chrono::milliseconds timeout) {
  if (closed_) return RD_KAFKA_RESP_ERR_NO_ERROR;
  closed_ = true;
  // The consumer queue keeps being served here: the revocation that leaving causes arrives
  // through it (on_revoke commits what may be committed). Records fetched and not read yet
  // come out of it too: they are dropped unprocessed (not committed, the partition's next
  // owner reads them again). rd_kafka_consume_queue() serves the callbacks and returns those
  // records; rd_kafka_queue_poll_callback() would find no callback for them, and librdkafka
  // aborts the process on an operation nothing handled (rd_kafka_q_serve).
  ErrorPtr error(rd_kafka_consumer_close_queue(handle_.get(), queue_.get()));
  if (error) return rd_kafka_error_code(error.get());
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!rd_kafka_consumer_closed(handle_.get())) {
    if (std::chrono::steady_clock::now() >= deadline) return RD_KAFKA_RESP_ERR__TIMED_OUT;
    if (rd_kafka_message_t* unread = rd_kafka_consume_queue(queue_.get(), 50)) rd_kafka_message_destroy(unread);
  }
  return RD_KAFKA_RESP_ERR_NO_ERROR;
}

void KafkaConsumer::on_offset_commit(rd_kafka_t*, rd_kafka_resp_err_t error, rd_kafka_topic_partition_list_t* offsets,
                                     void* opaque) {
  auto* self = static_cast<KafkaConsumer*>(static_cast<ClientContext*>(opaque)->owner);
  if (self->listener_ == nullptr || error == RD_KAFKA_RESP_ERR__NO_OFFSET) return;
  self->listener_->on_commit_result(error, offsets != nullptr ? from_list(*offsets) : std::vector<PartitionOffset>{});
}

void KafkaConsumer::on_rebalance(rd_kafka_t*, rd_kafka_resp_err_t error, rd_kafka_topic_partition_list_t* partitions,
                                 void* opaque) {
  static_cast<KafkaConsumer*>(static_cast<ClientContext*>(opaque)->owner)->handle_rebalance(error, partitions);
}

void KafkaConsumer::handle_rebalance(rd_kafka_resp_err_t error, rd_kafka_topic_partition_list_t* partitions) {
  rd_kafka_t* rk = handle_.get();
  const bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
  std::vector<TopicPartition> changed = partitions_of(*partitions);
  if (error == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    if (cooperative) {
      ErrorPtr assign_error(rd_kafka_incremental_assign(rk, partitions));
      if (assign_error) log::error("incremental assign failed", {{"error", rd_kafka_error_string(assign_error.get())}});
    } else {
      rd_kafka_assign(rk, partitions);
    }
    // librdkafka keeps a partition's pause flag through a revoke and a new assignment of the
    // same partition, while the engine's new state starts unpaused: resume them here, so both
    // views agree before the engine applies the pauses in force.
    rd_kafka_resume_partitions(rk, partitions);
    if (listener_ != nullptr) listener_->on_assigned(changed);
    return;
  }
  // A revocation, or a failed rebalance (then the assignment is gone too). Lost partitions are
  // already someone else's: the listener must not commit them.
  const bool lost = error != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS || rd_kafka_assignment_lost(rk) != 0;
  if (error != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) log::error("rebalance failed", {{"error", error_name(error)}});
  if (listener_ != nullptr) listener_->on_revoked(changed, lost);
  if (cooperative && error == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
    ErrorPtr unassign_error(rd_kafka_incremental_unassign(rk, partitions));
    if (unassign_error) log::error("incremental unassign failed", {{"error", rd_kafka_error_string(unassign_error.get())}});
  } else {
    rd_kafka_assign(rk, nullptr);
  }
}

}  // namespace sluice::kafka
