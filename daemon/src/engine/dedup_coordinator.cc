#include "engine/dedup_coordinator.h"

#include <algorithm>
#include <array>
#include <iterator>

#include "common/assert.h"
#include "common/log.h"

namespace sluice::engine {
namespace {

using std::chrono::milliseconds;

// How long to wait before asking again about a fingerprint another instance holds a
// reservation for.
constexpr milliseconds kBusyRecheck{500};
// How long a record waits before asking an unavailable store again, at most. The store's
// own reconnection backoff (Redis: 100 ms doubling to 5 s) decides when the network is
// tried; asking it more often costs nothing (it answers at once meanwhile) and lets a
// reconnection be noticed within this much of happening. With the general backoff (up to
// 10 s) on top of the store's, consumption resumed up to ~11 s after Redis came back.
constexpr milliseconds kUnavailableRecheckLimit{250};
constexpr milliseconds kUncheckedLogInterval{10'000};

}  // namespace

milliseconds backoff(int attempts) {
  int exponent = std::clamp(attempts - 1, 0, 7);
  return std::min(milliseconds(100) * (1 << exponent), milliseconds(10'000));
}

DedupCoordinator::DedupCoordinator(dedup::DedupStore& store, bool forward_unchecked, bool confirm_at_commit,
                                   metrics::Metrics& metrics)
    : store_(store), forward_unchecked_(forward_unchecked), confirm_at_commit_(confirm_at_commit) {
  const std::string backend(store_.backend_name());
  auto lookup_counter = [&](const char* result) {
    return &metrics.counter(metrics::MetricId::DedupLookups, {{"backend", backend}, {"result", result}});
  };
  counters_ = {lookup_counter("hit"), lookup_counter("miss"), lookup_counter("busy"), lookup_counter("error"),
               lookup_counter("unchecked")};
  round_duration_ = &metrics.histogram(metrics::MetricId::DedupBatchDuration, {{"backend", backend}});
  // Failed store calls, counted from whichever thread sees them (prometheus-cpp counters are
  // atomic, and every child is created here, so no lookup happens later).
  std::array<prometheus::Counter*, std::size(dedup::kStoreOperations)> errors{};
  for (dedup::StoreOperation operation : dedup::kStoreOperations) {
    errors[static_cast<size_t>(operation)] = &metrics.counter(
        metrics::MetricId::DedupStoreErrors, {{"backend", backend}, {"operation", std::string(dedup::operation_name(operation))}});
  }
  store_.set_failure_observer([errors](dedup::StoreOperation operation) { errors[static_cast<size_t>(operation)]->Increment(); });
}

bool DedupCoordinator::enqueue(InFlightRecord& record) {
  if (!forwarded_in_transaction_.empty() && forwarded_in_transaction_.contains(record.fingerprint)) {
    counters_.hit->Increment();
    return false;
  }
  auto [owner, inserted] = owners_.try_emplace(record.fingerprint, &record);
  if (!inserted && *owner != &record) {
    // The same content is already in flight: its outcome decides this one's.
    record.set_step(Step::WaitingOnPeer);
    (*owner)->waiters.push_back(&record);
    return true;
  }
  record.set_step(Step::Dedup);
  queue_.push_back(&record);
  return true;
}

void DedupCoordinator::flush_updates() {
  if (!releases_.empty()) {
    store_.release(releases_);
    releases_.clear();
  }
  if (!confirms_.empty()) {
    store_.confirm(confirms_);
    confirms_.clear();
  }
}

void DedupCoordinator::run_round(std::vector<Answer>& answers, std::vector<InFlightRecord*>& duplicates) {
  // Releases and confirms go first, so a fingerprint released by a failed record can be
  // reserved by its successor in the same round.
  flush_updates();
  if (queue_.empty()) return;
  // The round is taken out of queue_ because acting on it may queue records again (a waiter
  // taking over a released reservation); the two vectors trade places each round.
  SLUICE_ASSERT(round_.empty(), "run_round is not re-entered");
  round_.swap(queue_);
  keys_.clear();
  for (InFlightRecord* record : round_) keys_.push_back(record->fingerprint);
  auto started = std::chrono::steady_clock::now();
  store_.reserve(keys_, statuses_);
  round_duration_->Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  SLUICE_ASSERT(statuses_.size() == round_.size(), "dedup store must answer every fingerprint");

  bool any_unavailable = false;
  for (size_t i = 0; i < round_.size(); ++i) {
    InFlightRecord* record = round_[i];
    dedup::ReserveStatus status = statuses_[i];
    if (status == dedup::ReserveStatus::Reserved) record->holds_reservation = true;
    if (record->partition->revoked) {
      answers.push_back({record, Answer::Kind::Abandon});
      continue;
    }
    switch (status) {
      case dedup::ReserveStatus::Reserved:
        counters_.miss->Increment();
        answers.push_back({record, Answer::Kind::Forward});
        break;
      case dedup::ReserveStatus::Duplicate:
        counters_.hit->Increment();
        drop_duplicate(*record, duplicates);
        answers.push_back({record, Answer::Kind::Duplicate});
        break;
      case dedup::ReserveStatus::Busy:
        counters_.busy->Increment();
        rechecks_scheduled_ += 1;
        answers.push_back({record, Answer::Kind::Recheck, kBusyRecheck});
        break;
      case dedup::ReserveStatus::Unavailable:
        counters_.error->Increment();
        if (forward_unchecked_) {
          // Chosen by the operator: availability over dedup. Counted, and logged (rarely).
          counters_.unchecked->Increment();
          log_unchecked();
          answers.push_back({record, Answer::Kind::Forward});
          break;
        }
        any_unavailable = true;
        record->attempts += 1;
        rechecks_scheduled_ += 1;
        answers.push_back({record, Answer::Kind::Recheck, std::min(backoff(record->attempts), kUnavailableRecheckLimit)});
        break;
    }
  }
  if (any_unavailable != down_) {
    down_ = any_unavailable;
    if (down_) {
      log::warn("dedup store unavailable; pausing consumption", {{"backend", store_.backend_name()}});
    } else {
      log::info("dedup store available again", {{"backend", store_.backend_name()}});
    }
  }
  round_.clear();
}

void DedupCoordinator::log_unchecked() {
  auto now = std::chrono::steady_clock::now();
  if (now - last_unchecked_log_ < kUncheckedLogInterval) return;
  last_unchecked_log_ = now;
  log::warn("dedup store unavailable; forwarding without the check", {{"backend", store_.backend_name()}});
}

void DedupCoordinator::recheck_due(InFlightRecord& record, bool still_wanted) {
  rechecks_scheduled_ -= 1;
  SLUICE_ASSERT(rechecks_scheduled_ >= 0, "every dedup recheck timer was counted");
  if (still_wanted) queue_.push_back(&record);
}

bool DedupCoordinator::nobody_left_to_ask() {
  if (!down_ || rechecks_scheduled_ != 0 || !queue_.empty()) return false;
  log::info("no record is left to ask the dedup store again; resuming consumption to ask it",
            {{"backend", store_.backend_name()}});
  down_ = false;
  return true;
}

void DedupCoordinator::forwarded(InFlightRecord& record, std::vector<InFlightRecord*>& duplicates) {
  if (record.holds_reservation) {
    if (confirm_at_commit_) {
      transaction_confirms_.push_back(record.fingerprint);
      forwarded_in_transaction_.insert(record.fingerprint);
    } else {
      confirms_.push_back(record.fingerprint);
    }
    record.holds_reservation = false;
  }
  drop_duplicate(record, duplicates);
}

void DedupCoordinator::drop_duplicate(InFlightRecord& record, std::vector<InFlightRecord*>& duplicates) {
  InFlightRecord* const* owner = owners_.find(record.fingerprint);
  if (owner != nullptr && *owner == &record) owners_.erase(record.fingerprint);
  duplicates.insert(duplicates.end(), record.waiters.begin(), record.waiters.end());
  record.waiters.clear();
}

void DedupCoordinator::give_up(InFlightRecord& record, std::vector<InFlightRecord*>& abandoned) {
  if (record.holds_reservation) {
    releases_.push_back(record.fingerprint);
    record.holds_reservation = false;
  }
  InFlightRecord* const* owner = owners_.find(record.fingerprint);
  if (owner != nullptr && *owner == &record) owners_.erase(record.fingerprint);
  std::vector<InFlightRecord*> waiters;
  waiters.swap(record.waiters);
  for (InFlightRecord* waiter : waiters) {
    if (waiter->partition->revoked) {
      abandoned.push_back(waiter);
      continue;
    }
    // Its fingerprint was not forwarded in the open transaction: the owner that gives up had
    // it reserved all along, so no record of it could be forwarded meanwhile.
    bool queued = enqueue(*waiter);
    SLUICE_ASSERT(queued, "a waiter taking over is no duplicate of the open transaction");
  }
}

void DedupCoordinator::transaction_committed() {
  forwarded_in_transaction_.clear();
  if (transaction_confirms_.empty()) return;
  confirms_.insert(confirms_.end(), transaction_confirms_.begin(), transaction_confirms_.end());
  transaction_confirms_.clear();
  flush_updates();
  store_.flush();
}

void DedupCoordinator::transaction_aborted() {
  forwarded_in_transaction_.clear();
  releases_.insert(releases_.end(), transaction_confirms_.begin(), transaction_confirms_.end());
  transaction_confirms_.clear();
}

}  // namespace sluice::engine
