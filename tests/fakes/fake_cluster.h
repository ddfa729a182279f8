#pragma once
// A model of what a Kafka cluster with real transactions does, for tests that drive the
// engine through fake clients (the dev broker accepts the transactional calls but ignores
// their meaning, so exactly-once cannot be shown against it):
//   - partition logs; a read_committed reader sees records written outside transactions and
//     those of committed transactions, never aborted ones, and nothing at or past the first
//     record of a transaction still open (the last stable offset);
//   - one consumer group: its committed offsets and its generation;
//   - transactional producers by transactional.id: init_transactions bumps the epoch and
//     aborts what an older epoch left open (fencing it); a transaction's records and offsets
//     become visible together at commit, or vanish at abort; offsets sent with a stale
//     generation are refused (a zombie's), while generation -1 cannot be checked and is
//     accepted, as brokers do for metadata taken before the group was joined.
//
// Threading: one thread, except end_offset(), which a poller thread may call (a mutex guards
// the logs).

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <librdkafka/rdkafka.h>

#include "kafka/consumer_api.h"
#include "kafka/producer_api.h"

namespace sluice::fakes {

struct StoredRecord {
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<std::pair<std::string, std::string>> headers;
  int64_t timestamp_ms = -1;
  enum class State { Committed, Pending, Aborted };
  State state = State::Committed;
  uint64_t transaction = 0;  // the transaction that wrote it (0: none)

  std::optional<std::string> header(const std::string& name) const;  // the last one named so
};

class FakeCluster {
 public:
  void create_topic(const std::string& topic, int partitions);
  bool has_topic(const std::string& topic) const { return logs_.count(topic) != 0; }
  int partitions(const std::string& topic) const;
  // Whether the group has committed past every record a read_committed reader can see in each
  // of `partitions`, and no transaction is open there: nothing is left to consume.
  bool group_caught_up(const std::vector<kafka::TopicPartition>& partitions) const;

  // Writes as a plain (idempotent, not transactional) producer would; returns the offset.
  int64_t append(const std::string& topic, int32_t partition, StoredRecord record);
  int64_t end_offset(const std::string& topic, int32_t partition) const;
  int64_t last_stable_offset(const std::string& topic, int32_t partition) const;
  // What a read_committed reader gets from `from`: at most `max` visible records with their
  // offsets, stopping at the last stable offset.
  std::vector<std::pair<int64_t, const StoredRecord*>> read_committed(const std::string& topic, int32_t partition,
                                                                     int64_t from, size_t max) const;
  // Every committed record of `topic`, partition by partition, in offset order.
  std::vector<std::pair<kafka::TopicPartition, const StoredRecord*>> committed_records(const std::string& topic) const;

  // ---- the group
  int32_t generation() const { return generation_; }
  // The group moved on (a rebalance): metadata of the old generation is stale now.
  void bump_generation() { ++generation_; }
  std::optional<int64_t> committed_offset(const kafka::TopicPartition& partition) const;
  // A plain offset commit; refused with ILLEGAL_GENERATION when `generation` is stale.
  rd_kafka_resp_err_t commit_offsets(const std::vector<kafka::PartitionOffset>& offsets, int32_t generation);

  // ---- transactions
  // Bumps the epoch of `transactional_id` and aborts its open transaction.
  int32_t init_transactions(const std::string& transactional_id);
  bool fenced(const std::string& transactional_id, int32_t epoch) const;
  // A record of the open transaction (begun implicitly); PRODUCER_FENCED for a stale epoch.
  rd_kafka_resp_err_t append_transactional(const std::string& transactional_id, int32_t epoch, const std::string& topic,
                                           int32_t partition, StoredRecord record);
  kafka::TxnResult add_offsets(const std::string& transactional_id, int32_t epoch,
                               const std::vector<kafka::PartitionOffset>& offsets, const kafka::GroupMetadata& group);
  kafka::TxnResult commit_transaction(const std::string& transactional_id, int32_t epoch);
  kafka::TxnResult abort_transaction(const std::string& transactional_id, int32_t epoch);

  // How many transactions committed offsets whose metadata had generation -1 (unchecked).
  int unchecked_offset_commits() const { return unchecked_offset_commits_; }

  // Every committed transaction: where its records are, and the group's committed offsets
  // right after it (so a test can check each output against the offset committed with it).
  struct CommittedTransaction {
    std::vector<std::pair<kafka::TopicPartition, int64_t>> records;
    std::map<kafka::TopicPartition, int64_t> offsets_after;
  };
  const std::vector<CommittedTransaction>& committed_transactions() const { return committed_transactions_; }
  const StoredRecord& record_at(const kafka::TopicPartition& partition, int64_t offset) const {
    return logs_.at(partition.topic).at(static_cast<size_t>(partition.partition)).at(static_cast<size_t>(offset));
  }

 private:
  struct Transaction {
    uint64_t id = 0;
    std::vector<std::pair<kafka::TopicPartition, int64_t>> records;  // where its records are
    std::vector<kafka::PartitionOffset> offsets;
  };
  struct Producer {
    int32_t epoch = 0;
    std::optional<Transaction> open;
  };
  static kafka::TxnError txn_error(rd_kafka_resp_err_t code, bool abortable, bool fatal);
  void finish(Transaction& transaction, StoredRecord::State state);

  mutable std::mutex mutex_;
  std::map<std::string, std::vector<std::vector<StoredRecord>>> logs_;
  std::map<kafka::TopicPartition, int64_t> committed_;
  int32_t generation_ = 1;
  std::map<std::string, Producer> producers_;
  uint64_t next_transaction_ = 1;
  int unchecked_offset_commits_ = 0;
  std::vector<CommittedTransaction> committed_transactions_;
};

}  // namespace sluice::fakes
