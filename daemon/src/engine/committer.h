#pragma once
// How consumed offsets become committed, behind one interface with two implementations:
//   AtLeastOnceCommitter  — the completed prefix of each partition, committed once the dedup
//                           entries it depends on are durable (kafka.delivery: at_least_once);
//   TransactionalCommitter — each round's outputs and the completed prefix in one Kafka
//                           transaction (kafka.delivery: exactly_once).
// The engine calls the same points either way; only the transactional one cares about
// outputs (before_produce, on_output) and only it can ask the engine to rewind.
//
// Threading: engine thread only.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "engine/partition_state.h"
#include "kafka/consumer_api.h"

namespace sluice::engine {

class Committer {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  using Partitions = std::vector<std::shared_ptr<PartitionState>>;

  enum class Result {
    Committed,  // the positions (and outputs) are committed, or sent to be
    Nothing,    // nothing to commit
    Failed,     // not committed now; tried again next round (records are redelivered if never)
    Rewind,     // transactional: the round was aborted; every partition must start over from
                // its committed offset
    Fatal,      // the producer is unusable (fenced): stop
  };

  virtual ~Committer() = default;

  // Once, before consuming. Problems are appended to `errors`.
  virtual bool start(std::vector<std::string>& errors) = 0;
  // Outputs must be in order of their source offsets per partition (see OutputOrder).
  virtual bool orders_outputs() const = 0;
  // Before any output is produced; false when nothing may be produced (the producer is
  // unusable).
  virtual bool before_produce() = 0;
  // An output of the record at `offset` of `partition` was handed to the producer.
  virtual void on_output(const std::shared_ptr<PartitionState>& partition, int64_t offset) = 0;
  // The periodic commit; with `final`, the last one before stopping, which may wait until
  // `deadline`.
  virtual Result commit(bool final, TimePoint deadline) = 0;
  // Partitions about to be revoked, with their deliveries drained as far as they would go:
  // commit what they completed, unless `lost` (the group already gave them to another
  // member: nothing may be committed for them, and a transaction holding their outputs must
  // be aborted).
  virtual Result revoke(const Partitions& partitions, bool lost) = 0;
  // The result of an asynchronous offset commit.
  virtual void on_commit_result(rd_kafka_resp_err_t error, const std::vector<kafka::PartitionOffset>& offsets) = 0;
  // Sends commits that were waiting for the dedup store, once it has written what they need.
  virtual void poll() = 0;
};

}  // namespace sluice::engine
