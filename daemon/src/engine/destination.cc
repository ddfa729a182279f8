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
      breaker_(breaker, [this](BreakerState from, BreakerState to) {
        // The endpoint is back: its concurrency starts small again rather than every queued
        // record going at once.
        if (to == BreakerState::Closed && limit_) limit_->restart();
        events_.on_breaker_transition(index_, from, to);
      }) {}

int Destination::concurrency_limit() const {
  if (!limit_) return capacity_;
  return capacity_ == 0 ? limit_->limit() : std::min(capacity_, limit_->limit());
}

bool Destination::rate_allows(InFlightRecord& waiting, TimePoint now) {
  if (!rate_ || rate_->ready(now)) return true;
  if (rate_waiting_ != &waiting) {
    rate_waiting_ = &waiting;
    events_.on_rate_limited(waiting);
  }
  if (!rate_wake_scheduled_) {
    rate_wake_scheduled_ = true;
    events_.wake_destination_at(index_, rate_->next_token());
  }
  return false;
}

uint64_t Destination::key_gate_name(const InFlightRecord& record) {
  const uint64_t key_hash = record.key_hash();
  const auto partition = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(record.partition.get()));
  // A multiplicative mix: the table takes the top bits, and every bit of both moves them.
  return (key_hash ^ (partition >> 4)) * 0x9e3779b97f4a7c15ULL;
}

Destination::Gate& Destination::gate_of(const InFlightRecord& record) {
  switch (ordering_) {
    // With `none` there is one gate: no key to build and hash per record.
    case config::Ordering::None: return single_gate_;
    case config::Ordering::Partition: return gates_.try_emplace(GateKey{record.partition.get()}).first->second;
    case config::Ordering::Key: break;
  }
  const uint64_t name = key_gate_name(record);
  if (Gate* gate = key_gates_.find(name)) return *gate;
  std::unique_ptr<Gate> gate;
  if (spare_gates_.empty()) {
    gate = std::make_unique<Gate>();
  } else {
    gate = std::move(spare_gates_.back());
    spare_gates_.pop_back();
  }
  gate->name = name;
  return key_gates_.insert(name, std::move(gate));
}

void Destination::retire_key_gate(Gate& gate) {
  SLUICE_ASSERT(gate.queued.empty() && gate.in_flight == 0 && !gate.ready, "only an idle gate is retired");
  std::unique_ptr<Gate> owned = key_gates_.take(gate.name);
  SLUICE_ASSERT(owned.get() == &gate, "a key's gate is in the table under its name");
  if (spare_gates_.size() >= kMaxSpareGates) return;  // `owned` frees it
  owned->queued_bytes = 0;
  spare_gates_.push_back(std::move(owned));
}

template <typename Visit>
void Destination::for_each_gate(Visit&& visit) const {
  visit(single_gate_);
  for (const auto& [key, gate] : gates_) visit(gate);
  key_gates_.for_each([&](uint64_t, const Gate& gate) { visit(gate); });
}

void Destination::offer(InFlightRecord& record, TimePoint now) {
  Gate& gate = gate_of(record);
  // The common case: nothing waits before it, so it goes at once if the breaker allows.
  // Without a token it joins the queue, and pump() counts the wait of the queue's head (so a
  // record is counted once, when it is the one waiting).
  if (!batching_ && gate.queued.empty() && gate_has_room(gate) && has_room() && now >= send_blocked_until_ &&
      (!rate_ || rate_->ready(now))) {
    CircuitBreaker::Permit permit = breaker_.try_acquire(now);
    if (permit.granted) {
      dispatch(gate, record, permit, now);
      update_holds();
      return;
    }
  }
  enqueue(gate, record, false);
  if (rate_held_) hold(*record.partition);
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
    // several of one partition may be in flight, so the front is not always the place), or,
    // with none queued, behind the earlier ones already back (a batch's come back in order).
    auto same_partition = [&](const InFlightRecord* other) { return other->partition == record.partition; };
    auto later = std::find_if(gate.queued.begin(), gate.queued.end(), [&](const InFlightRecord* other) {
      return same_partition(other) && other->offset > record.offset;
    });
    if (later == gate.queued.end()) {
      auto earlier = std::find_if(gate.queued.rbegin(), gate.queued.rend(), same_partition);
      later = earlier == gate.queued.rend() ? gate.queued.begin() : earlier.base();
    }
    gate.queued.insert(later, &record);
  }
  queued_ += 1;
  count_queued(gate, record, 1);
}

std::unordered_set<PartitionState*> Destination::partitions_queued() const {
  std::unordered_set<PartitionState*> partitions;
  for_each_gate([&](const Gate& gate) {
    for (const InFlightRecord* record : gate.queued) partitions.insert(record->partition.get());
  });
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
      if (rate_) rate_->take(now);
      gate.in_flight += 1;
      in_flight_ += 1;
      record.destination_gate = &gate;
      record.destination_gate_name = gate.name;
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

void Destination::pump_records(TimePoint now) {
  while (!ready_.empty() && has_room() && now >= send_blocked_until_) {
    Gate* gate = ready_.front();
    if (gate->queued.empty() || !gate_has_room(*gate)) {
      gate->ready = false;
      ready_.pop_front();
      drop_if_idle(*gate);  // emptied meanwhile (withdraw_matching)
      continue;
    }
    InFlightRecord* record = gate->queued.front();
    // Before the breaker: a permit asked for and not used would hold a probe slot.
    if (!rate_allows(*record, now)) break;
    CircuitBreaker::Permit permit = breaker_.try_acquire(now);
    if (!permit.granted) break;
    gate->queued.pop_front();
    queued_ -= 1;
    if (!dispatch(*gate, *record, permit, now)) break;
    if (gate->queued.empty() || !gate_has_room(*gate)) {
      gate->ready = false;
      ready_.pop_front();
      drop_if_idle(*gate);  // its record was refused at once, and nothing waits behind it
    }
  }
}

void Destination::pump(TimePoint now) {
  if (batching_) {
    pump_batches(now);
  } else {
    pump_records(now);
  }
  if ((queued_ > 0 || !resend_.empty()) && breaker_.current_state() == BreakerState::Open && !wake_scheduled_) {
    wake_scheduled_ = true;
    events_.wake_destination_at(index_, breaker_.open_until());
  }
  update_holds();
}

Destination::Gate& Destination::gate_in_flight(const InFlightRecord& record) {
  // Set when the record left its gate: no second lookup (nor hash of its key) per record. A
  // gate is retired only when idle, so it is there while one of its records is out.
  Gate* gate = ordering_ == config::Ordering::None ? &single_gate_ : static_cast<Gate*>(record.destination_gate);
  SLUICE_ASSERT(gate != nullptr && gate->in_flight > 0, "a result for a record this destination sent");
  return *gate;
}

void Destination::judge(const CircuitBreaker::Permit& permit, Result result, TimePoint sent_at, TimePoint now,
                        std::optional<std::chrono::milliseconds> retry_after) {
  switch (result) {
    case Result::Delivered:
    case Result::BadData:
      // The destination answered, so it is up (a refusal is of the record as it is). The limit
      // first: a probe's success that closes the breaker restarts it from 1.
      if (limit_) limit_->on_success();
      breaker_.on_success(permit, now);
      break;
    case Result::Cancelled:
      breaker_.cancel(permit);
      break;
    case Result::Overloaded:
    case Result::Transient:
      if (result == Result::Overloaded && limit_) limit_->on_overload(sent_at, now);
      breaker_.on_failure(permit, now, retry_after);
      break;
  }
}

Destination::Verdict Destination::on_result(InFlightRecord& record, Result result, TimePoint now,
                                            std::optional<std::chrono::milliseconds> retry_after) {
  Gate& gate = gate_in_flight(record);
  gate.in_flight -= 1;
  in_flight_ -= 1;
  judge(record.permit, result, record.sent_at, now, retry_after);
  record.permit = {};
  Verdict verdict = Verdict::Delivered;
  switch (result) {
    case Result::Delivered: verdict = Verdict::Delivered; break;
    case Result::BadData: verdict = Verdict::BadData; break;
    case Result::Cancelled: verdict = Verdict::Cancelled; break;
    case Result::Overloaded:
    case Result::Transient:
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
  drop_if_idle(gate);
  if (wake_scheduled_ && breaker_.current_state() != BreakerState::Open) wake_scheduled_ = false;
  return verdict;
}

void Destination::drop_if_idle(Gate& gate) {
  // A key's gate goes when idle, or there would be one per key ever seen; a partition's stays
  // for its next record until the partition goes (withdraw()).
  if (ordering_ != config::Ordering::Key || gate.ready || gate.in_flight > 0 || !gate.queued.empty()) return;
  retire_key_gate(gate);
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
  // A key's gate may hold records of two partitions (names that collide), so it goes only
  // when idle; one in ready_ stays for pump() to drop (it may be the gate pump() is sending
  // from, when a refusal made the engine withdraw). Retired after the walk: a removal moves
  // other entries of the table.
  std::vector<Gate*> idle;
  key_gates_.for_each([&](uint64_t, Gate& gate) {
    withdraw_from(gate, partition, out);
    if (gate.in_flight == 0 && gate.queued.empty() && !gate.ready) idle.push_back(&gate);
  });
  for (Gate* gate : idle) retire_key_gate(*gate);
  // Nothing of the withdrawn partitions is queued any more: their holds go.
  update_holds(true);
}

void Destination::withdraw_matching(const InFlightRecord& record, const std::function<bool(const InFlightRecord&)>& match,
                                    std::vector<InFlightRecord*>& out) {
  Gate* gate = &single_gate_;
  if (ordering_ == config::Ordering::Partition) {
    auto it = gates_.find(GateKey{record.partition.get()});
    if (it == gates_.end()) return;
    gate = &it->second;
  } else if (ordering_ == config::Ordering::Key) {
    gate = key_gates_.find(key_gate_name(record));
    if (gate == nullptr) return;
  }
  std::deque<InFlightRecord*> keep;
  for (InFlightRecord* queued : gate->queued) {
    if (match(*queued)) {
      out.push_back(queued);
      queued_ -= 1;
      count_queued(*gate, *queued, -1);
    } else {
      keep.push_back(queued);
    }
  }
  gate->queued.swap(keep);
  // It may be the gate pump() is sending from (a record it sent was refused at once, and the
  // engine takes that record's followers): one in ready_ stays there, pump() takes it out.
  if (!gate->ready) drop_if_idle(*gate);
  update_holds(true);
}

void Destination::withdraw_from(Gate& gate, const PartitionState* partition, std::vector<InFlightRecord*>& out) {
  if (gate.queued.empty()) return;  // the common case; `keep` below would allocate
  std::deque<InFlightRecord*> keep;
  for (InFlightRecord* record : gate.queued) {
    if (partition == nullptr || record->partition.get() == partition) {
      out.push_back(record);
      queued_ -= 1;
      count_queued(gate, *record, -1);
    } else {
      keep.push_back(record);
    }
  }
  gate.queued.swap(keep);
}

void Destination::hold(PartitionState& partition) {
  if (held_partitions_.insert(&partition).second) events_.hold_for_outage(partition, true);
}

void Destination::update_holds(bool walk) {
  const bool outage = breaker_.current_state() != BreakerState::Closed;
  const bool was_rate_held = rate_held_;
  if (rate_ && !rate_held_ && queued_ > kRateQueueBound) rate_held_ = true;
  if (rate_held_ && queued_ <= kRateQueueBound / 2) rate_held_ = false;
  const bool holding = outage || rate_held_;
  if (!holding && held_partitions_.empty()) return;
  // While only the rate limit holds, the queues are walked when the hold starts (offer()
  // holds the partition of each record queued meanwhile), not at every record sent.
  if (!outage && rate_held_ && was_rate_held && !walk) return;
  // Only during a hold (or right after it) are the queues looked at: keeping a count per
  // partition at every record queued and sent would cost the common case instead.
  std::unordered_set<PartitionState*> queued;
  if (holding) queued = partitions_queued();
  for (auto it = held_partitions_.begin(); it != held_partitions_.end();) {
    if (queued.count(*it) == 0) {
      events_.hold_for_outage(**it, false);
      it = held_partitions_.erase(it);
    } else {
      ++it;
    }
  }
  for (PartitionState* partition : queued) hold(*partition);
}

}  // namespace sluice::engine
