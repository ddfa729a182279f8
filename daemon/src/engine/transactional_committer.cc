#include "engine/transactional_committer.h"

#include <algorithm>

#include "common/log.h"

namespace sluice::engine {
namespace {

using std::chrono::milliseconds;

// Upper bound for one transactional call (librdkafka retries inside it as needed).
constexpr milliseconds kCallTimeout{30'000};
// How often the wait for outputs hands control back (deliveries are handled meanwhile).
constexpr milliseconds kFlushSlice{100};

}  // namespace

void log_transaction_call(std::string_view call, const kafka::TxnResult& result) {
  if (!result) {
    log::debug("transaction call", {{"call", call}});
    return;
  }
  log::warn("transaction call failed", {{"call", call},
                                        {"error", result->name},
                                        {"detail", result->text},
                                        {"retriable", result->retriable},
                                        {"abortable", result->abortable},
                                        {"fatal", result->fatal}});
}

milliseconds TransactionalCommitter::until(TimePoint deadline) const {
  auto left = std::chrono::duration_cast<milliseconds>(deadline - clock_.now());
  return std::clamp(left, milliseconds(1), kCallTimeout);
}

void TransactionalCommitter::count(const char* result) {
  metrics_.counter(metrics::MetricId::OffsetCommits, {{"result", result}}).Increment();
}

bool TransactionalCommitter::start(std::vector<std::string>& errors) {
  // Once per process: fences any older producer with the same transactional.id.
  kafka::TxnResult error = producer_.init_transactions(kCallTimeout);
  log_transaction_call("init_transactions", error);
  if (error) {
    errors.push_back("init_transactions: " + error->text);
    return false;
  }
  return true;
}

bool TransactionalCommitter::before_produce() {
  if (fatal_) return false;
  if (open_) return true;
  kafka::TxnResult error = producer_.begin_transaction();
  log_transaction_call("begin_transaction", error);
  if (error) {
    // Only a broken producer refuses to begin (fatal, e.g. fenced).
    log::error("transaction cannot begin; stopping", {{"error", error->text}});
    fatal_ = true;
    return false;
  }
  open_ = true;
  return true;
}

void TransactionalCommitter::on_output(const std::shared_ptr<PartitionState>& partition, int64_t offset) {
  auto [it, inserted] = outputs_.try_emplace(partition, offset);
  if (!inserted) it->second = std::max(it->second, offset);
}

std::vector<kafka::PartitionOffset> TransactionalCommitter::positions() const {
  std::vector<kafka::PartitionOffset> offsets;
  partitions_.for_each([&](const std::shared_ptr<PartitionState>& partition) {
    if (auto position = partition->offsets.committable()) offsets.push_back({partition->topic, partition->partition, *position});
  });
  return offsets;
}

Committer::Result TransactionalCommitter::commit(bool, TimePoint deadline) { return round(deadline); }

Committer::Result TransactionalCommitter::round(TimePoint deadline) {
  if (fatal_) return Result::Fatal;
  if (!open_ && positions().empty()) return Result::Nothing;  // nothing produced, nothing to commit
  if (!before_produce()) return Result::Fatal;

  // Outputs first: a record whose output is still in flight must not have its offset
  // committed without it. Failures handled meanwhile may add retry or DLQ records.
  const auto wait_until = std::min(deadline, clock_.now() + kCallTimeout);
  while (producer_.outstanding() > 0 && clock_.now() < wait_until) {
    producer_.flush(kFlushSlice);
    if (!between_flushes_()) break;
  }
  if (fatal_) return Result::Fatal;
  if (producer_.outstanding() > 0) return abort("outputs not acknowledged in time");

  // The invariant a commit must keep: each output comes from a record below the offset this
  // transaction commits for its partition (else a crash after the commit would produce it
  // again). Output order makes it hold; anything that breaks it (an output whose delivery
  // failed and whose record did not finish) aborts instead.
  for (const auto& [partition, highest] : outputs_) {
    std::optional<int64_t> position = partition->offsets.position();
    if (partition->revoked || !position || *position <= highest) {
      return abort("an output's record is not complete (" + partition->topic + "/" +
                   std::to_string(partition->partition) + " offset " + std::to_string(highest) + ")");
    }
  }
  std::vector<kafka::PartitionOffset> offsets = positions();
  if (!offsets.empty()) {
    kafka::TxnResult error =
        producer_.send_offsets_to_transaction(offsets, consumer_.group_metadata(), until(deadline));
    log_transaction_call("send_offsets_to_transaction", error);
    if (error) {
      if (error->fatal) {
        fatal_ = true;
        return Result::Fatal;
      }
      // E.g. a stale generation: the group moved on without us (a zombie) — abort.
      return abort(error->text);
    }
  }
  kafka::TxnResult error = producer_.commit_transaction(until(deadline));
  for (int attempt = 0; error && error->retriable && !error->abortable && !error->fatal && attempt < 3; ++attempt) {
    log_transaction_call("commit_transaction", error);
    error = producer_.commit_transaction(until(deadline));
  }
  log_transaction_call("commit_transaction", error);
  if (error) {
    if (error->abortable) return abort(error->text);
    // Fenced by a newer instance with our transactional.id, or otherwise unusable.
    log::error("transaction cannot be committed; stopping", {{"error", error->text}});
    fatal_ = true;
    return Result::Fatal;
  }
  open_ = false;
  outputs_.clear();
  for (const kafka::PartitionOffset& entry : offsets) {
    if (auto partition = partitions_.find(entry.topic, entry.partition)) partition->offsets.mark_committed(entry.offset);
  }
  dedup_.transaction_committed();
  count("ok");
  return Result::Committed;
}

Committer::Result TransactionalCommitter::abort(const std::string& why) {
  log::warn("transaction aborted; rewinding to the committed offsets", {{"reason", why}});
  count("aborted");
  kafka::TxnResult error = producer_.abort_transaction(kCallTimeout);
  log_transaction_call("abort_transaction", error);
  open_ = false;
  outputs_.clear();
  dedup_.transaction_aborted();
  if (error) {
    fatal_ = true;
    return Result::Fatal;
  }
  return Result::Rewind;
}

Committer::Result TransactionalCommitter::revoke(const Partitions& partitions, bool lost) {
  if (!lost) return round(clock_.now() + kCallTimeout);
  // The group gave the partitions to another member (usually all of ours at once, after a
  // session timeout): the open transaction holds outputs whose records the new owner
  // processes again, and any offsets it would send carry a generation the group left
  // behind. Abort it; the engine rewinds what it still holds.
  (void)partitions;
  if (!open_) return Result::Nothing;
  return abort("partitions lost from the group");
}

}  // namespace sluice::engine
