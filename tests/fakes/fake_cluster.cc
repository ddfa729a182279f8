#include "fakes/fake_cluster.h"

#include <stdexcept>

namespace sluice::fakes {

std::optional<std::string> StoredRecord::header(const std::string& name) const {
  std::optional<std::string> found;
  for (const auto& [header_name, value] : headers) {
    if (header_name == name) found = value;
  }
  return found;
}

void FakeCluster::create_topic(const std::string& topic, int partitions) {
  std::lock_guard<std::mutex> lock(mutex_);
  logs_[topic].resize(static_cast<size_t>(partitions));
}

int FakeCluster::partitions(const std::string& topic) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = logs_.find(topic);
  return it == logs_.end() ? 0 : static_cast<int>(it->second.size());
}

int64_t FakeCluster::append(const std::string& topic, int32_t partition, StoredRecord record) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<StoredRecord>& log = logs_.at(topic).at(static_cast<size_t>(partition));
  record.state = StoredRecord::State::Committed;
  record.transaction = 0;
  log.push_back(std::move(record));
  return static_cast<int64_t>(log.size()) - 1;
}

int64_t FakeCluster::end_offset(const std::string& topic, int32_t partition) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int64_t>(logs_.at(topic).at(static_cast<size_t>(partition)).size());
}

bool FakeCluster::group_caught_up(const std::vector<kafka::TopicPartition>& partitions) const {
  for (const kafka::TopicPartition& partition : partitions) {
    const int64_t committed = committed_offset(partition).value_or(0);
    // Everything from the committed offset on must be aborted (invisible) records.
    if (!read_committed(partition.topic, partition.partition, committed, 1).empty()) return false;
    if (last_stable_offset(partition.topic, partition.partition) < end_offset(partition.topic, partition.partition)) {
      return false;
    }
  }
  return true;
}

int64_t FakeCluster::last_stable_offset(const std::string& topic, int32_t partition) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const std::vector<StoredRecord>& log = logs_.at(topic).at(static_cast<size_t>(partition));
  for (size_t i = 0; i < log.size(); ++i) {
    if (log[i].state == StoredRecord::State::Pending) return static_cast<int64_t>(i);
  }
  return static_cast<int64_t>(log.size());
}

std::vector<std::pair<int64_t, const StoredRecord*>> FakeCluster::read_committed(const std::string& topic,
                                                                                 int32_t partition, int64_t from,
                                                                                 size_t max) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const std::vector<StoredRecord>& log = logs_.at(topic).at(static_cast<size_t>(partition));
  std::vector<std::pair<int64_t, const StoredRecord*>> out;
  for (size_t i = static_cast<size_t>(std::max<int64_t>(from, 0)); i < log.size() && out.size() < max; ++i) {
    if (log[i].state == StoredRecord::State::Pending) break;  // the last stable offset
    if (log[i].state == StoredRecord::State::Aborted) continue;
    out.emplace_back(static_cast<int64_t>(i), &log[i]);
  }
  return out;
}

std::vector<std::pair<kafka::TopicPartition, const StoredRecord*>> FakeCluster::committed_records(
    const std::string& topic) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::pair<kafka::TopicPartition, const StoredRecord*>> out;
  const auto& partitions = logs_.at(topic);
  for (size_t p = 0; p < partitions.size(); ++p) {
    for (const StoredRecord& record : partitions[p]) {
      if (record.state == StoredRecord::State::Committed) out.emplace_back(kafka::TopicPartition{topic, static_cast<int32_t>(p)}, &record);
    }
  }
  return out;
}

std::optional<int64_t> FakeCluster::committed_offset(const kafka::TopicPartition& partition) const {
  auto it = committed_.find(partition);
  if (it == committed_.end()) return std::nullopt;
  return it->second;
}

rd_kafka_resp_err_t FakeCluster::commit_offsets(const std::vector<kafka::PartitionOffset>& offsets, int32_t generation) {
  if (generation != generation_) return RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION;
  for (const kafka::PartitionOffset& entry : offsets) committed_[{entry.topic, entry.partition}] = entry.offset;
  return RD_KAFKA_RESP_ERR_NO_ERROR;
}

kafka::TxnError FakeCluster::txn_error(rd_kafka_resp_err_t code, bool abortable, bool fatal) {
  kafka::TxnError error;
  error.code = code;
  error.name = rd_kafka_err2name(code);
  error.text = rd_kafka_err2str(code);
  error.abortable = abortable;
  error.fatal = fatal;
  return error;
}

void FakeCluster::finish(Transaction& transaction, StoredRecord::State state) {
  for (const auto& [partition, offset] : transaction.records) {
    logs_.at(partition.topic).at(static_cast<size_t>(partition.partition)).at(static_cast<size_t>(offset)).state = state;
  }
}

int32_t FakeCluster::init_transactions(const std::string& transactional_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  Producer& producer = producers_[transactional_id];
  if (producer.open) {
    finish(*producer.open, StoredRecord::State::Aborted);
    producer.open.reset();
  }
  return ++producer.epoch;
}

bool FakeCluster::fenced(const std::string& transactional_id, int32_t epoch) const {
  auto it = producers_.find(transactional_id);
  return it == producers_.end() || it->second.epoch != epoch;
}

rd_kafka_resp_err_t FakeCluster::append_transactional(const std::string& transactional_id, int32_t epoch,
                                                      const std::string& topic, int32_t partition,
                                                      StoredRecord record) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (fenced(transactional_id, epoch)) return RD_KAFKA_RESP_ERR_PRODUCER_FENCED;
  Producer& producer = producers_[transactional_id];
  if (!producer.open) producer.open = Transaction{next_transaction_++, {}, {}};
  std::vector<StoredRecord>& log = logs_.at(topic).at(static_cast<size_t>(partition));
  record.state = StoredRecord::State::Pending;
  record.transaction = producer.open->id;
  log.push_back(std::move(record));
  producer.open->records.emplace_back(kafka::TopicPartition{topic, partition}, static_cast<int64_t>(log.size()) - 1);
  return RD_KAFKA_RESP_ERR_NO_ERROR;
}

kafka::TxnResult FakeCluster::add_offsets(const std::string& transactional_id, int32_t epoch,
                                          const std::vector<kafka::PartitionOffset>& offsets,
                                          const kafka::GroupMetadata& group) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (fenced(transactional_id, epoch)) return txn_error(RD_KAFKA_RESP_ERR_PRODUCER_FENCED, false, true);
  // KIP-447: the coordinator refuses offsets from a member of an older generation.
  if (group.generation_id != -1 && group.generation_id != generation_) {
    return txn_error(RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION, true, false);
  }
  Producer& producer = producers_[transactional_id];
  if (!producer.open) producer.open = Transaction{next_transaction_++, {}, {}};
  if (group.generation_id == -1) ++unchecked_offset_commits_;
  producer.open->offsets.insert(producer.open->offsets.end(), offsets.begin(), offsets.end());
  return std::nullopt;
}

kafka::TxnResult FakeCluster::commit_transaction(const std::string& transactional_id, int32_t epoch) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (fenced(transactional_id, epoch)) return txn_error(RD_KAFKA_RESP_ERR_PRODUCER_FENCED, false, true);
  Producer& producer = producers_[transactional_id];
  if (!producer.open) return std::nullopt;
  finish(*producer.open, StoredRecord::State::Committed);
  for (const kafka::PartitionOffset& entry : producer.open->offsets) committed_[{entry.topic, entry.partition}] = entry.offset;
  committed_transactions_.push_back({producer.open->records, committed_});
  producer.open.reset();
  return std::nullopt;
}

kafka::TxnResult FakeCluster::abort_transaction(const std::string& transactional_id, int32_t epoch) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (fenced(transactional_id, epoch)) return txn_error(RD_KAFKA_RESP_ERR_PRODUCER_FENCED, false, true);
  Producer& producer = producers_[transactional_id];
  if (!producer.open) return std::nullopt;
  finish(*producer.open, StoredRecord::State::Aborted);
  producer.open.reset();
  return std::nullopt;
}

}  // namespace sluice::fakes
