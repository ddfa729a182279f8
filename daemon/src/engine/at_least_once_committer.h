#pragma once
// kafka.delivery: at_least_once. The committable position of a partition is one past its
// completed prefix. A commit goes to the group only once the dedup entries the
// committed records confirmed are durable: at once with a store that writes synchronously;
// with one that writes on a thread of its own, the positions wait (oldest first) for the
// store's ticket and go from poll(). Periodic and revocation commits are asynchronous (a lost
// one only means redelivery); the final commit at stop waits, within its deadline.

#include <deque>
#include <memory>
#include <utility>
#include <vector>

#include "dedup/dedup_store.h"
#include "engine/clock.h"
#include "engine/committer.h"
#include "engine/dedup_coordinator.h"
#include "engine/partition_table.h"
#include "kafka/consumer_api.h"
#include "metrics/metrics.h"

namespace sluice::engine {

class AtLeastOnceCommitter final : public Committer {
 public:
  AtLeastOnceCommitter(kafka::ConsumerApi& consumer, dedup::DedupStore& store, DedupCoordinator& dedup,
                       PartitionTable& partitions, metrics::Metrics& metrics, const EngineClock& clock)
      : consumer_(consumer), store_(store), dedup_(dedup), partitions_(partitions), metrics_(metrics), clock_(clock) {}

  bool start(std::vector<std::string>&) override { return true; }
  bool orders_outputs() const override { return false; }
  bool before_produce() override { return true; }
  void on_output(const std::shared_ptr<PartitionState>&, int64_t) override {}
  Result commit(bool final, TimePoint deadline) override;
  Result revoke(const Partitions& partitions, bool lost) override;
  void on_commit_result(rd_kafka_resp_err_t error, const std::vector<kafka::PartitionOffset>& offsets) override;
  void poll() override;

 private:
  using Positions = std::vector<std::pair<std::shared_ptr<PartitionState>, int64_t>>;
  struct DeferredCommit {
    uint64_t ticket;
    Positions positions;
  };
  // While the store cannot write (e.g. Redis down), one entry would be added per commit
  // interval; beyond this many the newest entry absorbs the next (its ticket covers both).
  static constexpr size_t kMaxDeferredCommits = 8;

  Result commit_when_durable(const Partitions& partitions);
  static void merge_positions(Positions& into, Positions&& from);
  void count(bool ok);

  kafka::ConsumerApi& consumer_;
  dedup::DedupStore& store_;
  DedupCoordinator& dedup_;
  PartitionTable& partitions_;
  metrics::Metrics& metrics_;
  const EngineClock& clock_;
  std::deque<DeferredCommit> deferred_;
};

}  // namespace sluice::engine
