#include "engine/destination.h"

#include <algorithm>

#include "common/assert.h"

namespace sluice::engine {
namespace {

// A record the sink's local queue could not take is offered again after this.
constexpr std::chrono::milliseconds kQueueFullRetry{20};

}  // namespace

Destination::Destination(int index, std::unique_ptr<Sink> sink, HttpSink* http, config::Ordering ordering, int capacity,
                         const BreakerSettings& breaker, DestinationEvents& events)
    : index_(index),
      sink_(std::move(sink)),
      http_(http),
      ordering_(ordering),
      capacity_(capacity),
      events_(events),
      breaker_(breaker, [this](BreakerState from, BreakerState to) { events_.on_breaker_transition(index_, from, to); }) {}

Destination::GateKey Destination::key_of(const InFlightRecord& record) const {
  switch (ordering_) {
    case config::Ordering::Partition: return {record.partition.get(), {}};
    case config::Ordering::Key: return {record.partition.get(), std::string(record.key())};
    case config::Ordering::None: break;
  }
  return {};
}

Destination::Gate& Destination::gate_of(const InFlightRecord& record) {
  // With `none` there is one gate: no key to build and hash per record.
  if (ordering_ == config::Ordering::None) return single_gate_;
  return gates_[key_of(record)];
}

void Destination::offer(InFlightRecord& record, TimePoint now) {
  Gate& gate = gate_of(record);
  // The common case: nothing waits before it, so it goes at once if the breaker allows.
  if (gate.queued.empty() && gate_has_room(gate) && has_room() && now >= send_blocked_until_) {
    CircuitBreaker::Permit permit = breaker_.try_acquire(now);
    if (permit.granted) {
      dispatch(gate, record, permit, now);
      update_outage();
      return;
    }
  }
  enqueue(gate, record, false);
  if (gate_has_room(gate)) make_ready(gate);
  pump(now);
}

void Destination::enqueue(Gate& gate, InFlightRecord& record, bool at_head) {
  record.set_step(Step::Queued);
  record.permit = {};
  if (!at_head) {
    gate.queued.push_back(&record);
  } else {
    // Ahead of every later record of its partition (with `none` a gate mixes partitions and
    // several of one partition may be in flight, so the front is not always the place).
    auto later = std::find_if(gate.queued.begin(), gate.queued.end(), [&](const InFlightRecord* other) {
      return other->partition == record.partition && other->offset > record.offset;
    });
    gate.queued.insert(later == gate.queued.end() ? gate.queued.begin() : later, &record);
  }
  queued_ += 1;
}

std::unordered_set<PartitionState*> Destination::partitions_queued() const {
  std::unordered_set<PartitionState*> partitions;
  auto add = [&](const Gate& gate) {
    for (const InFlightRecord* record : gate.queued) partitions.insert(record->partition.get());
  };
  add(single_gate_);
  for (const auto& [key, gate] : gates_) add(gate);
  return partitions;
}

void Destination::make_ready(Gate& gate) {
  if (gate.ready || gate.queued.empty()) return;
  gate.ready = true;
  ready_.push_back(&gate);
}

bool Destination::dispatch(Gate& gate, InFlightRecord& record, CircuitBreaker::Permit permit, TimePoint now) {
  record.permit = permit;
  record.set_step(Step::Forwarding);
  record.sent_at = now;
  SendResult result = sink_->send(record);
  switch (result.status) {
    case SendStatus::Accepted:
      gate.in_flight += 1;
      in_flight_ += 1;
      events_.on_dispatched(record);
      return true;
    case SendStatus::QueueFull:
      breaker_.cancel(permit);
      enqueue(gate, record, true);
      make_ready(gate);
      send_blocked_until_ = now + kQueueFullRetry;
      events_.wake_destination_at(index_, send_blocked_until_);
      return false;
    case SendStatus::Rejected:
      // The destination is fine; this record is not.
      breaker_.on_success(permit, now);
      record.permit = {};
      events_.on_refused(record, result.error);
      return true;
  }
  return true;
}

void Destination::pump(TimePoint now) {
  while (!ready_.empty() && has_room() && now >= send_blocked_until_) {
    Gate* gate = ready_.front();
    if (gate->queued.empty() || !gate_has_room(*gate)) {
      gate->ready = false;
      ready_.pop_front();
      continue;
    }
    CircuitBreaker::Permit permit = breaker_.try_acquire(now);
    if (!permit.granted) break;
    InFlightRecord* record = gate->queued.front();
    gate->queued.pop_front();
    queued_ -= 1;
    if (!dispatch(*gate, *record, permit, now)) break;
    if (gate->queued.empty() || !gate_has_room(*gate)) {
      gate->ready = false;
      ready_.pop_front();
    }
  }
  if (queued_ > 0 && breaker_.current_state() == BreakerState::Open && !wake_scheduled_) {
    wake_scheduled_ = true;
    events_.wake_destination_at(index_, breaker_.open_until());
  }
  update_outage();
}

Destination::Verdict Destination::on_result(InFlightRecord& record, Result result, TimePoint now,
                                            std::optional<std::chrono::milliseconds> retry_after) {
  GateKey key;
  Gate* found = &single_gate_;
  if (ordering_ != config::Ordering::None) {
    key = key_of(record);
    auto it = gates_.find(key);
    found = it != gates_.end() ? &it->second : nullptr;
  }
  SLUICE_ASSERT(found != nullptr && found->in_flight > 0, "a result for a record this destination sent");
  Gate& gate = *found;
  gate.in_flight -= 1;
  in_flight_ -= 1;
  CircuitBreaker::Permit permit = record.permit;
  record.permit = {};
  Verdict verdict = Verdict::Delivered;
  switch (result) {
    case Result::Delivered:
      breaker_.on_success(permit, now);
      verdict = Verdict::Delivered;
      break;
    case Result::BadData:
      // The destination answered, so it is up; it refuses this record as it is.
      breaker_.on_success(permit, now);
      verdict = Verdict::BadData;
      break;
    case Result::Cancelled:
      breaker_.cancel(permit);
      verdict = Verdict::Cancelled;
      break;
    case Result::Transient:
      breaker_.on_failure(permit, now, retry_after);
      if (breaker_.state(now) != BreakerState::Closed) {
        // An outage, not this record's fault: it waits at the head of its gate.
        enqueue(gate, record, true);
        verdict = Verdict::Waiting;
      } else {
        verdict = Verdict::Retry;
      }
      break;
  }
  if (gate_has_room(gate)) make_ready(gate);
  drop_gate_if_idle(key, gate);
  if (wake_scheduled_ && breaker_.current_state() != BreakerState::Open) wake_scheduled_ = false;
  return verdict;
}

void Destination::drop_gate_if_idle(const GateKey& key, Gate& gate) {
  // A key's gate goes when idle, or there would be one per key ever seen; a partition's stays
  // for its next record until the partition goes (withdraw()).
  if (ordering_ != config::Ordering::Key || gate.ready || gate.in_flight > 0 || !gate.queued.empty()) return;
  gates_.erase(key);
}

void Destination::withdraw(const PartitionState* partition, std::vector<InFlightRecord*>& out) {
  if (ordering_ == config::Ordering::None) {
    withdraw_from(single_gate_, partition, out);
  }
  for (auto it = gates_.begin(); it != gates_.end();) {
    Gate& gate = it->second;
    withdraw_from(gate, partition, out);
    const bool gone = partition == nullptr || it->first.partition == partition;
    if (gone && gate.in_flight == 0 && gate.queued.empty()) {
      if (gate.ready) ready_.erase(std::find(ready_.begin(), ready_.end(), &gate));
      it = gates_.erase(it);
    } else {
      ++it;
    }
  }
  // Nothing of the withdrawn partitions is queued any more: their outage holds go.
  update_outage();
}

void Destination::withdraw_from(Gate& gate, const PartitionState* partition, std::vector<InFlightRecord*>& out) {
  std::deque<InFlightRecord*> keep;
  for (InFlightRecord* record : gate.queued) {
    if (partition == nullptr || record->partition.get() == partition) {
      out.push_back(record);
      queued_ -= 1;
    } else {
      keep.push_back(record);
    }
  }
  gate.queued.swap(keep);
}

void Destination::update_outage() {
  const bool outage = breaker_.current_state() != BreakerState::Closed;
  if (!outage && held_partitions_.empty()) return;
  // Only during an outage (or right after it) are the queues looked at: keeping a count per
  // partition at every record queued and sent would cost the common case instead.
  std::unordered_set<PartitionState*> queued;
  if (outage) queued = partitions_queued();
  for (auto it = held_partitions_.begin(); it != held_partitions_.end();) {
    if (queued.count(*it) == 0) {
      events_.hold_for_outage(**it, false);
      it = held_partitions_.erase(it);
    } else {
      ++it;
    }
  }
  for (PartitionState* partition : queued) {
    if (held_partitions_.insert(partition).second) events_.hold_for_outage(*partition, true);
  }
}

}  // namespace sluice::engine
