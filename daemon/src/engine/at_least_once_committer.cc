#include "engine/at_least_once_committer.h"

#include <algorithm>

#include "common/log.h"
#include "kafka/client.h"

namespace sluice::engine {

void AtLeastOnceCommitter::count(bool ok) {
  metrics_.counter(metrics::MetricId::OffsetCommits, {{"result", ok ? "ok" : "failed"}}).Increment();
}

Committer::Result AtLeastOnceCommitter::commit(bool final, TimePoint deadline) {
  Partitions all;
  partitions_.for_each([&](const std::shared_ptr<PartitionState>& state) { all.push_back(state); });
  if (!final) return commit_when_durable(all);
  // The last commit waits for what it depends on: the dedup entries first, then the group.
  dedup_.flush_updates();
  if (!store_.flush()) {
    log::error("dedup flush failed; offsets not committed");
    return Result::Failed;
  }
  deferred_.clear();  // everything below is at or past the positions that waited
  std::vector<kafka::PartitionOffset> offsets;
  for (const auto& partition : all) {
    if (auto position = partition->offsets.committable()) offsets.push_back({partition->topic, partition->partition, *position});
  }
  if (offsets.empty()) return Result::Nothing;
  auto timeout = std::max(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_.now()),
                          std::chrono::milliseconds(1));
  rd_kafka_resp_err_t error = consumer_.commit_sync(offsets, timeout);
  for (const kafka::PartitionOffset& entry : offsets) {
    auto partition = partitions_.find(entry.topic, entry.partition);
    if (partition && error == RD_KAFKA_RESP_ERR_NO_ERROR && entry.error == RD_KAFKA_RESP_ERR_NO_ERROR) {
      partition->offsets.mark_committed(entry.offset);
    }
  }
  count(error == RD_KAFKA_RESP_ERR_NO_ERROR);
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    log::warn("offset commit failed", {{"error", kafka::error_name(error)}});
    return Result::Failed;
  }
  return Result::Committed;
}

Committer::Result AtLeastOnceCommitter::revoke(const Partitions& partitions, bool lost) {
  // A lost partition is already another member's: committing our position could move its
  // offset back or past what the new owner did. Its records are redelivered.
  if (lost) return Result::Nothing;
  // The commit must go before the group rebalances, so the dedup entries are written now.
  dedup_.flush_updates();
  if (!store_.flush()) {
    log::error("dedup flush failed; offsets not committed");
    return Result::Failed;
  }
  // Asynchronous is enough: librdkafka sends it before it rejoins, and a lost commit only
  // means redelivery.
  return commit_when_durable(partitions);
}

Committer::Result AtLeastOnceCommitter::commit_when_durable(const Partitions& partitions) {
  // Confirmed fingerprints become durable before the offsets that depend on them. A store
  // that writes on a thread of its own answers later; its offsets wait in deferred_ rather
  // than hold up the loop.
  dedup_.flush_updates();
  const uint64_t ticket = store_.request_flush();
  Positions positions;
  for (const auto& partition : partitions) {
    if (partition->revoked) continue;
    if (auto position = partition->offsets.committable()) positions.emplace_back(partition, *position);
  }
  if (positions.empty()) return Result::Nothing;
  if (deferred_.size() >= kMaxDeferredCommits) {
    DeferredCommit& newest = deferred_.back();
    newest.ticket = ticket;
    merge_positions(newest.positions, std::move(positions));
  } else {
    deferred_.push_back(DeferredCommit{.ticket = ticket, .positions = std::move(positions)});
  }
  poll();
  return Result::Committed;
}

void AtLeastOnceCommitter::merge_positions(Positions& into, Positions&& from) {
  // Positions only grow, so the larger one per partition wins.
  // An entry, not a structured binding: clang 14 cannot capture a binding in the lambda.
  for (auto& entry : from) {
    auto same = std::find_if(into.begin(), into.end(), [&](const auto& other) { return other.first == entry.first; });
    if (same == into.end()) {
      into.emplace_back(std::move(entry.first), entry.second);
    } else {
      same->second = std::max(same->second, entry.second);
    }
  }
}

void AtLeastOnceCommitter::poll() {
  if (deferred_.empty()) return;
  const uint64_t durable = store_.durable_ticket();
  Positions latest;
  while (!deferred_.empty() && deferred_.front().ticket <= durable) {
    merge_positions(latest, std::move(deferred_.front().positions));
    deferred_.pop_front();
  }
  std::vector<kafka::PartitionOffset> offsets;
  Partitions sent;
  for (auto& [partition, position] : latest) {
    // Revoked meanwhile (its own commit went with the revocation, or it was lost), or already
    // committed this far by a synchronous commit.
    if (partition->revoked) continue;
    if (auto committed = partition->offsets.committed(); committed && *committed >= position) continue;
    offsets.push_back({partition->topic, partition->partition, position});
    partition->offsets.mark_committed(position);  // optimistic; on_commit_result undoes it on failure
    sent.push_back(partition);
  }
  if (offsets.empty()) return;
  rd_kafka_resp_err_t error = consumer_.commit_async(offsets);
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    for (const auto& partition : sent) partition->offsets.forget_committed();
    count(false);
    log::warn("offset commit not sent", {{"error", kafka::error_name(error)}});
  }
}

void AtLeastOnceCommitter::on_commit_result(rd_kafka_resp_err_t error,
                                            const std::vector<kafka::PartitionOffset>& offsets) {
  bool failed = error != RD_KAFKA_RESP_ERR_NO_ERROR;
  for (const kafka::PartitionOffset& entry : offsets) {
    if (entry.error == RD_KAFKA_RESP_ERR_NO_ERROR && !failed) continue;
    failed = true;
    if (auto partition = partitions_.find(entry.topic, entry.partition)) partition->offsets.forget_committed();
  }
  count(!failed);
  if (failed) log::warn("offset commit failed; will retry", {{"error", kafka::error_name(error)}});
}

}  // namespace sluice::engine
