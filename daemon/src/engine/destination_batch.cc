// A Destination's batches (a batched HTTP route): when a batch goes, what it takes from the
// gates, and what its answer does to each of its records. See destination.h and http_batch.h.

#include <algorithm>

#include "common/assert.h"
#include "engine/destination.h"

namespace sluice::engine {
namespace {

int64_t value_bytes(const InFlightRecord& record) { return static_cast<int64_t>(record.value().size()); }

}  // namespace

void Destination::count_queued(Gate& gate, const InFlightRecord& record, int sign) {
  if (!batching_) return;
  const int64_t bytes = sign * value_bytes(record);
  gate.queued_bytes += bytes;
  if (!gate_has_room(gate)) return;
  available_ += sign;
  available_bytes_ += bytes;
}

void Destination::count_room(Gate& gate, int sign) {
  if (!batching_) return;
  available_ += sign * static_cast<int64_t>(gate.queued.size());
  available_bytes_ += sign * gate.queued_bytes;
}

void Destination::pump_batches(TimePoint now) {
  const BatchSettings& settings = *batching_;
  while (has_room()) {
    // Parts of a refused batch first: their records hold their gates shut meanwhile.
    if (!resend_.empty()) {
      CircuitBreaker::Permit permit = breaker_.try_acquire(now);
      if (!permit.granted) break;
      Batch part = std::move(resend_.front());
      resend_.pop_front();
      send_batch(std::move(part), permit, now);
      continue;
    }
    if (available_ == 0) {
      forming_since_.reset();
      break;
    }
    if (!forming_since_) forming_since_ = now;
    const bool full = available_ >= static_cast<int64_t>(settings.max_records) || available_bytes_ >= settings.max_bytes;
    const TimePoint due = *forming_since_ + settings.linger;
    if (!full && now < due) {
      if (!linger_wake_scheduled_) {
        linger_wake_scheduled_ = true;
        events_.wake_destination_at(index_, due);
      }
      break;
    }
    // The first record a batch would take: a ready gate with room holds it (stale entries of
    // ready_ are dropped on the way).
    while (!ready_.empty() && (ready_.front()->queued.empty() || !gate_has_room(*ready_.front()))) {
      Gate& stale = *ready_.front();
      stale.ready = false;
      ready_.pop_front();
      drop_if_idle(stale);  // emptied meanwhile (withdraw_matching)
    }
    SLUICE_ASSERT(!ready_.empty(), "records available to a batch are at a ready gate");
    // Before the breaker: a permit asked for and not used would hold a probe slot.
    if (!rate_allows(*ready_.front()->queued.front(), now)) break;
    CircuitBreaker::Permit permit = breaker_.try_acquire(now);
    if (!permit.granted) break;
    Batch batch = take_batch(now);
    for (InFlightRecord* record : batch.records) events_.on_dispatched(*record);
    // What is left starts the next batch (it may well be full already).
    forming_since_ = available_ > 0 ? std::optional<TimePoint>(now) : std::nullopt;
    send_batch(std::move(batch), permit, now);
  }
}

Batch Destination::take_batch(TimePoint now) {
  const BatchSettings& settings = *batching_;
  Batch batch;
  int64_t bytes = 0;
  bool full = false;
  while (!full && !ready_.empty()) {
    Gate& gate = *ready_.front();
    int taken = 0;
    // All the consecutive records the gate has queued, as far as the batch has room: they
    // stay in offset order, and the gate is shut until every one of them is answered.
    while (gate_has_room(gate) && !gate.queued.empty()) {
      InFlightRecord* record = gate.queued.front();
      full = batch.records.size() >= settings.max_records ||
             (!batch.records.empty() && bytes + value_bytes(*record) > settings.max_bytes) ||
             (rate_ && !rate_->ready(now));
      if (full) break;
      gate.queued.pop_front();
      queued_ -= 1;
      count_queued(gate, *record, -1);
      if (rate_) rate_->take(now);
      bytes += value_bytes(*record);
      record->destination_gate = &gate;
      record->destination_gate_name = gate.name;
      batch.records.push_back(record);
      taken += 1;
    }
    gate.in_flight += taken;
    // Shut now (but with `none`): the rest of its queue is no longer available.
    if (taken > 0 && ordering_ != config::Ordering::None) count_room(gate, -1);
    if (gate.queued.empty() || !gate_has_room(gate)) {
      gate.ready = false;
      ready_.pop_front();
    }
  }
  SLUICE_ASSERT(!batch.records.empty(), "a batch is taken only when a record is available");
  return batch;
}

void Destination::send_batch(Batch batch, CircuitBreaker::Permit permit, TimePoint now) {
  batch.id = next_batch_id_++;
  batch.permit = permit;
  batch.sent_at = now;
  for (InFlightRecord* record : batch.records) {
    record->set_step(Step::Forwarding);
    record->sent_at = now;
    record->permit = {};  // the batch's
  }
  sink_->send_batch(batch);
  in_flight_ += 1;
  events_.on_batch_sent(index_, batch);
  batches_.emplace(batch.id, std::move(batch));
}

Destination::TimePoint Destination::on_batch_result(uint64_t id, Result result, TimePoint now,
                                                    std::optional<std::chrono::milliseconds> retry_after,
                                                    BatchVerdicts& out) {
  auto it = batches_.find(id);
  SLUICE_ASSERT(it != batches_.end(), "a result for a batch this destination sent");
  Batch batch = std::move(it->second);
  batches_.erase(it);
  const TimePoint sent_at = batch.sent_at;
  in_flight_ -= 1;
  judge(batch.permit, result, batch.sent_at, now, retry_after);
  auto finish_all = [&](const BatchRecords& records, Verdict verdict) {
    for (InFlightRecord* record : records) finish(*record, verdict, out);
  };
  auto send_next_part = [&] {
    Batch next = batch.next_part();
    if (!next.records.empty()) resend_.push_back(std::move(next));
  };
  switch (result) {
    case Result::Delivered:
      finish_all(batch.records, Verdict::Delivered);
      send_next_part();
      break;
    case Result::BadData:
      // Refused as it is: in halves, until the records refused are alone (and go to the DLQ).
      if (batch.bisect()) {
        events_.on_batch_split(index_);
        resend_.push_front(std::move(batch));
      } else {
        finish_all(batch.records, Verdict::BadData);
        send_next_part();
      }
      break;
    case Result::Cancelled:
      finish_all(batch.records, Verdict::Cancelled);
      for (const BatchRecords& part : batch.rest) finish_all(part, Verdict::Cancelled);
      break;
    case Result::Overloaded:
    case Result::Transient:
      if (breaker_.state(now) != BreakerState::Closed) {
        // An outage: every record goes back to the head of its gate, in order — the parts
        // still to send too, or a later record could overtake them. The gates get ready in
        // the same order, so the batch that goes next holds the same records as this one.
        finish_all(batch.records, Verdict::Waiting);
        for (const BatchRecords& part : batch.rest) finish_all(part, Verdict::Waiting);
      } else {
        finish_all(batch.records, Verdict::Retry);
        send_next_part();
      }
      break;
  }
  if (wake_scheduled_ && breaker_.current_state() != BreakerState::Open) wake_scheduled_ = false;
  return sent_at;
}

void Destination::finish(InFlightRecord& record, Verdict verdict, BatchVerdicts& out) {
  Gate& gate = gate_in_flight(record);
  gate.in_flight -= 1;
  if (ordering_ != config::Ordering::None && gate.in_flight == 0) count_room(gate, 1);
  // A record whose partition went away is given up unless it was delivered.
  if (verdict != Verdict::Delivered && record.partition->revoked) verdict = Verdict::Cancelled;
  if (verdict == Verdict::Waiting) enqueue(gate, record, true);
  if (gate_has_room(gate)) make_ready(gate);
  drop_if_idle(gate);
  out.emplace_back(&record, verdict);
}

}  // namespace sluice::engine
