#pragma once
// Between the stages and the destinations: asks the dedup store about each record's
// fingerprint, a batch per round, and keeps the protocol that makes a fingerprint final only
// once its message was forwarded:
//   - a record whose fingerprint is not in flight reserves it (Reserved: go on; Duplicate:
//     seen within the window; Busy: another instance holds it, ask again later; Unavailable:
//     the store cannot answer — back off and pause, or forward unchecked as configured);
//   - an identical record arriving while the first is in flight waits for it (a peer): it is
//     a duplicate if the first is forwarded, and takes the reservation over otherwise;
//   - forwarded: the fingerprint is confirmed (with exactly-once, only once the transaction
//     that holds the forward commits); given up (failed, retried, abandoned): released.
// The coordinator decides; the engine acts on its answers (forward, complete, schedule).
//
// Threading: engine thread only.

#include <chrono>
#include <string>
#include <vector>

#include "dedup/dedup_store.h"
#include "engine/in_flight_record.h"
#include "fingerprint/fingerprint_map.h"
#include "metrics/metrics.h"

namespace sluice::engine {

class DedupCoordinator {
 public:
  struct Answer {
    enum class Kind {
      Forward,    // reserved (or unchecked): on to the destination
      Duplicate,  // seen within the window: complete as duplicate (waiters are in `duplicates`)
      Recheck,    // ask again after `delay` (a timer; recheck_due() when it fires)
      Abandon,    // its partition was revoked meanwhile
    };
    InFlightRecord* record = nullptr;
    Kind kind = Kind::Forward;
    std::chrono::milliseconds delay{0};
  };

  // `confirm_at_commit`: exactly-once, where a forward is final only with its transaction.
  DedupCoordinator(dedup::DedupStore& store, bool forward_unchecked, bool confirm_at_commit, metrics::Metrics& metrics);

  // A record past the stages: queued for the next reserve round, or waiting behind an
  // identical record in flight; with exactly-once, a duplicate at once when an identical
  // record was forwarded in the open transaction (false: the caller completes it as one).
  bool enqueue(InFlightRecord& record);
  bool has_queued() const { return !queue_.empty(); }
  // One reserve round over the queued records; answers are appended in queue order.
  void run_round(std::vector<Answer>& answers, std::vector<InFlightRecord*>& duplicates);
  // A Recheck timer fired: the record asks again in the next round (`still_wanted` false: its
  // partition was revoked and the engine gives it up).
  void recheck_due(InFlightRecord& record, bool still_wanted);

  // The owner was forwarded: its fingerprint is final; identical records waiting on it are
  // appended to `duplicates`.
  void forwarded(InFlightRecord& record, std::vector<InFlightRecord*>& duplicates);
  // A record found to be a duplicate (store answer): its waiters are duplicates too.
  void drop_duplicate(InFlightRecord& record, std::vector<InFlightRecord*>& duplicates);
  // The record gives up its reservation without forwarding (failed, sent to a tier, given
  // up): the first waiter takes it over. Waiters whose partition was revoked are appended to
  // `abandoned` for the engine to give up.
  void give_up(InFlightRecord& record, std::vector<InFlightRecord*>& abandoned);

  // Sends queued confirms and releases to the store.
  void flush_updates();
  // Exactly-once: the transaction committed (confirm what it forwarded) or was aborted
  // (release it).
  void transaction_committed();
  void transaction_aborted();

  // The store could not answer in the last round: the engine pauses every partition.
  bool down() const { return down_; }
  // Down, but no record is left to find out that the store is back (all were given up in a
  // rebalance): true once, and the coordinator counts as up again, so that the engine resumes
  // and the next records ask.
  bool nobody_left_to_ask();

 private:
  void log_unchecked();

  dedup::DedupStore& store_;
  const bool forward_unchecked_;
  const bool confirm_at_commit_;
  fingerprint::FingerprintMap<InFlightRecord*> owners_;
  std::vector<InFlightRecord*> queue_;
  std::vector<InFlightRecord*> round_;  // the records run_round is handling
  std::vector<fingerprint::Fingerprint> confirms_;
  std::vector<fingerprint::Fingerprint> releases_;
  std::vector<fingerprint::Fingerprint> transaction_confirms_;
  // The same, to look up: forwarded in the open transaction. Until it commits the store only
  // has them reserved (another record with one would be told Busy and ask again later, its
  // partition waiting meanwhile); it commits them with the offsets of their duplicates, or
  // aborts both.
  fingerprint::FingerprintSet forwarded_in_transaction_;
  std::vector<dedup::ReserveStatus> statuses_;
  std::vector<fingerprint::Fingerprint> keys_;
  bool down_ = false;
  // Records with a timer to ask the store again: while down_, they are what finds out that
  // the store is back.
  int64_t rechecks_scheduled_ = 0;
  std::chrono::steady_clock::time_point last_unchecked_log_{};
  struct Counters {
    prometheus::Counter* hit = nullptr;
    prometheus::Counter* miss = nullptr;
    prometheus::Counter* busy = nullptr;
    prometheus::Counter* error = nullptr;
    prometheus::Counter* unchecked = nullptr;  // forwarded without the check (on_unavailable)
  } counters_;
  prometheus::Histogram* round_duration_ = nullptr;
};

// 100ms, 200ms, 400ms ... capped at 10s: fast recovery after a blip, little load in an outage.
std::chrono::milliseconds backoff(int attempts);

}  // namespace sluice::engine
