#include "fakes/fake_consumer.h"

namespace sluice::fakes {

std::string describe(const kafka::TopicPartition& partition) {
  return partition.topic + "/" + std::to_string(partition.partition);
}

FakeConsumer::FakeConsumer(FakeCluster& cluster, std::string group_id, std::string member_id)
    : cluster_(cluster), group_id_(std::move(group_id)), member_id_(std::move(member_id)) {}

void FakeConsumer::assign(std::vector<kafka::TopicPartition> partitions, int32_t generation) {
  Event event;
  event.kind = Event::Kind::Assign;
  event.partitions = std::move(partitions);
  event.generation = generation;
  events_.push_back(std::move(event));
}

void FakeConsumer::revoke(std::vector<kafka::TopicPartition> partitions, bool lost) {
  Event event;
  event.kind = Event::Kind::Revoke;
  event.partitions = std::move(partitions);
  event.lost = lost;
  events_.push_back(std::move(event));
}

void FakeConsumer::report_error(rd_kafka_resp_err_t error) {
  Event event;
  event.kind = Event::Kind::ClientError;
  event.error = error;
  events_.push_back(std::move(event));
}

rd_kafka_resp_err_t FakeConsumer::subscribe(const std::vector<std::string>& topics) {
  std::string line = "subscribe";
  for (const std::string& topic : topics) line += " " + topic;
  calls.push_back(line);
  return RD_KAFKA_RESP_ERR_NO_ERROR;
}

void FakeConsumer::serve_events() {
  while (!events_.empty()) {
    Event event = std::move(events_.front());
    events_.pop_front();
    switch (event.kind) {
      case Event::Kind::Assign: {
        generation_ = event.generation >= 0 ? event.generation : cluster_.generation();
        for (const kafka::TopicPartition& partition : event.partitions) {
          assigned_.insert(partition);
          paused_.erase(partition);  // a new assignment starts unpaused, as librdkafka's does
          positions_[partition] = cluster_.committed_offset(partition).value_or(0);
          calls.push_back("assigned " + describe(partition));
        }
        if (listener_ != nullptr) listener_->on_assigned(event.partitions);
        break;
      }
      case Event::Kind::Revoke: {
        std::vector<kafka::TopicPartition> revoked;
        for (const kafka::TopicPartition& partition : event.partitions) {
          if (assigned_.count(partition) != 0) revoked.push_back(partition);
        }
        for (const kafka::TopicPartition& partition : revoked) {
          calls.push_back(std::string(event.lost ? "lost " : "revoked ") + describe(partition));
        }
        if (listener_ != nullptr) listener_->on_revoked(revoked, event.lost);
        for (const kafka::TopicPartition& partition : revoked) {
          assigned_.erase(partition);
          paused_.erase(partition);
          positions_.erase(partition);
          eof_at_.erase(partition);
        }
        break;
      }
      case Event::Kind::CommitResult:
        if (listener_ != nullptr) listener_->on_commit_result(event.error, event.offsets);
        break;
      case Event::Kind::ClientError:
        if (listener_ != nullptr) listener_->on_client_error(event.error, "fake client error", false);
        break;
    }
  }
}

size_t FakeConsumer::poll_batch(std::vector<kafka::Message>& out, size_t max) {
  serve_events();
  if (closed_ || assigned_.empty()) return 0;
  std::vector<kafka::TopicPartition> order(assigned_.begin(), assigned_.end());
  size_t taken = 0;
  // Round-robin over the partitions, a few records of one at a time, as fetched batches come.
  for (size_t step = 0; step < order.size() && taken < max; ++step) {
    const kafka::TopicPartition& partition = order[(next_partition_ + step) % order.size()];
    if (paused_.count(partition) != 0) continue;
    int64_t& position = positions_[partition];
    auto records = cluster_.read_committed(partition.topic, partition.partition, position, max - taken);
    cached_high_[partition] = cluster_.last_stable_offset(partition.topic, partition.partition);
    for (const auto& [offset, record] : records) {
      kafka::Message::Fields fields;
      fields.topic = partition.topic;
      fields.partition = partition.partition;
      fields.offset = offset;
      fields.key = record->key;
      fields.value = record->value;
      fields.headers = record->headers;
      fields.timestamp_ms = record->timestamp_ms;
      out.push_back(kafka::Message::build(std::move(fields)));
      position = offset + 1;
      ++taken;
    }
    // Caught up: the reader is past any aborted records and transaction markers up to the last
    // stable offset, as librdkafka's fetch position is.
    if (records.size() < max - (taken - records.size()) && position < cached_high_[partition]) {
      position = cached_high_[partition];
    }
    auto eof_at = eof_at_.try_emplace(partition, -1).first;
    if (partition_eof && taken < max && position >= cached_high_[partition] && eof_at->second != position) {
      eof_at->second = position;
      kafka::Message::Fields fields;
      fields.topic = partition.topic;
      fields.partition = partition.partition;
      fields.offset = position;
      fields.error = RD_KAFKA_RESP_ERR__PARTITION_EOF;
      out.push_back(kafka::Message::build(std::move(fields)));
      ++taken;
    }
  }
  next_partition_ = (next_partition_ + 1) % std::max<size_t>(order.size(), 1);
  return taken;
}

void FakeConsumer::pause(const std::vector<kafka::TopicPartition>& partitions) {
  for (const kafka::TopicPartition& partition : partitions) {
    paused_.insert(partition);
    calls.push_back("pause " + describe(partition));
  }
}

void FakeConsumer::resume(const std::vector<kafka::TopicPartition>& partitions) {
  for (const kafka::TopicPartition& partition : partitions) {
    paused_.erase(partition);
    calls.push_back("resume " + describe(partition));
  }
}

rd_kafka_resp_err_t FakeConsumer::commit_async(const std::vector<kafka::PartitionOffset>& offsets) {
  for (const kafka::PartitionOffset& entry : offsets) {
    calls.push_back("commit_async " + entry.topic + "/" + std::to_string(entry.partition) + "@" + std::to_string(entry.offset));
  }
  Event result;
  result.kind = Event::Kind::CommitResult;
  result.error = cluster_.commit_offsets(offsets, generation_);
  result.offsets = offsets;
  for (kafka::PartitionOffset& entry : result.offsets) entry.error = result.error;
  events_.push_back(std::move(result));
  return RD_KAFKA_RESP_ERR_NO_ERROR;
}

rd_kafka_resp_err_t FakeConsumer::commit_sync(std::vector<kafka::PartitionOffset>& offsets, std::chrono::milliseconds) {
  for (const kafka::PartitionOffset& entry : offsets) {
    calls.push_back("commit_sync " + entry.topic + "/" + std::to_string(entry.partition) + "@" + std::to_string(entry.offset));
  }
  rd_kafka_resp_err_t error = cluster_.commit_offsets(offsets, generation_);
  for (kafka::PartitionOffset& entry : offsets) entry.error = error;
  return error;
}

rd_kafka_resp_err_t FakeConsumer::committed(std::vector<kafka::PartitionOffset>& partitions, std::chrono::milliseconds) {
  for (kafka::PartitionOffset& entry : partitions) {
    entry.offset = cluster_.committed_offset({entry.topic, entry.partition}).value_or(RD_KAFKA_OFFSET_INVALID);
  }
  return RD_KAFKA_RESP_ERR_NO_ERROR;
}

rd_kafka_resp_err_t FakeConsumer::seek(const std::vector<kafka::PartitionOffset>& positions, std::chrono::milliseconds) {
  for (const kafka::PartitionOffset& entry : positions) {
    kafka::TopicPartition partition{entry.topic, entry.partition};
    if (assigned_.count(partition) == 0) return RD_KAFKA_RESP_ERR__STATE;
    positions_[partition] = entry.offset == RD_KAFKA_OFFSET_BEGINNING ? 0 : entry.offset;
    eof_at_.erase(partition);
    calls.push_back("seek " + describe(partition) + "@" + std::to_string(positions_[partition]));
  }
  return RD_KAFKA_RESP_ERR_NO_ERROR;
}

kafka::GroupMetadata FakeConsumer::group_metadata() {
  kafka::GroupMetadata metadata;
  metadata.group_id = group_id_;
  metadata.generation_id = generation_;
  metadata.member_id = generation_ >= 0 ? member_id_ : std::string();
  return metadata;
}

std::optional<kafka::Watermarks> FakeConsumer::cached_watermarks(const kafka::TopicPartition& partition) {
  auto it = cached_high_.find(partition);
  if (it == cached_high_.end()) return std::nullopt;
  return kafka::Watermarks{0, it->second};
}

std::optional<kafka::Watermarks> FakeConsumer::query_watermarks(const kafka::TopicPartition& partition,
                                                               std::chrono::milliseconds) {
  if (!cluster_.has_topic(partition.topic)) return std::nullopt;
  if (watermark_failures > 0) {
    watermark_failures -= 1;
    return std::nullopt;
  }
  return kafka::Watermarks{0, cluster_.last_stable_offset(partition.topic, partition.partition)};
}

rd_kafka_resp_err_t FakeConsumer::close(std::chrono::milliseconds) {
  calls.push_back("close");
  serve_events();
  if (!assigned_.empty()) revoke({assigned_.begin(), assigned_.end()}, false);
  serve_events();
  closed_ = true;
  return RD_KAFKA_RESP_ERR_NO_ERROR;
}

}  // namespace sluice::fakes
