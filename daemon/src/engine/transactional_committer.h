#pragma once
// kafka.delivery: exactly_once. One transactional producer per instance (init_transactions
// once, fencing any older producer with the same transactional.id). Each round puts the
// outputs of the records it finished — downstream, retry-tier, rejected and DLQ records —
// and the consumed offsets of the completed prefix of each partition into one transaction:
//
//   begin (at the first output) → outputs → wait until every output is acknowledged →
//   check that every output comes from a record below the offset committed for its
//   partition → send the offsets, with the group metadata as the consumer knows it now (its
//   generation and member id let the broker refuse a zombie's commit) → commit.
//
// Any failure that the transaction survives only by aborting (a delivery that failed, an
// output not acknowledged in time, a refused offset commit such as a stale generation, a
// revocation of partitions already lost) aborts it, and the engine rewinds every partition
// to its committed offset. A fatal error (fenced by a newer instance) stops the instance.
// Dedup fingerprints of the forwards are confirmed only once their transaction committed.
//
// Stop: the final round gets the time left until the stop deadline; each transactional call
// is bounded by it.

#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "engine/clock.h"
#include "engine/committer.h"
#include "engine/dedup_coordinator.h"
#include "engine/partition_table.h"
#include "kafka/consumer_api.h"
#include "kafka/producer_api.h"
#include "metrics/metrics.h"

namespace sluice::engine {

class TransactionalCommitter final : public Committer {
 public:
  // `between_flushes` runs while the round waits for its outputs (deliveries are handled
  // meanwhile and may add outputs: a failed forward's retry record); false stops the wait
  // (a stop whose drain ran out), and the round is aborted.
  TransactionalCommitter(kafka::ProducerApi& producer, kafka::ConsumerApi& consumer, DedupCoordinator& dedup,
                         PartitionTable& partitions, metrics::Metrics& metrics, const EngineClock& clock,
                         std::function<bool()> between_flushes)
      : producer_(producer),
        consumer_(consumer),
        dedup_(dedup),
        partitions_(partitions),
        metrics_(metrics),
        clock_(clock),
        between_flushes_(std::move(between_flushes)) {}

  bool start(std::vector<std::string>& errors) override;
  bool orders_outputs() const override { return true; }
  bool before_produce() override;
  void on_output(const std::shared_ptr<PartitionState>& partition, int64_t offset) override;
  Result commit(bool final, TimePoint deadline) override;
  Result revoke(const Partitions& partitions, bool lost) override;
  void on_commit_result(rd_kafka_resp_err_t, const std::vector<kafka::PartitionOffset>&) override {}
  void poll() override {}

 private:
  Result round(TimePoint deadline);
  std::chrono::milliseconds until(TimePoint deadline) const;
  Result abort(const std::string& why);
  std::vector<kafka::PartitionOffset> positions() const;
  void count(const char* result);

  kafka::ProducerApi& producer_;
  kafka::ConsumerApi& consumer_;
  DedupCoordinator& dedup_;
  PartitionTable& partitions_;
  metrics::Metrics& metrics_;
  const EngineClock& clock_;
  std::function<bool()> between_flushes_;
  bool open_ = false;
  bool fatal_ = false;
  // The highest source offset of an output in the open transaction, per partition.
  std::map<std::shared_ptr<PartitionState>, int64_t> outputs_;
};

// Logs one transactional call ("transaction call" at debug, "transaction call failed" at warn).
void log_transaction_call(std::string_view call, const kafka::TxnResult& result);

}  // namespace sluice::engine
