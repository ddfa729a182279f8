#pragma once
// One destination (a topic, or an HTTP endpoint) with everything that decides when a record
// may go there: its sink, its circuit breaker, its ordering gates and its queue.
//
//   offer(record) → the record joins its gate's queue (ordering: one gate per input
//     partition, per partition and key, or one for all with `none`);
//   dispatch → the head of a gate leaves when the gate has room (one record in flight per
//     gate, except with `none`), the destination has room (an HTTP route: max_connections ×
//     pipeline_depth) and — asked only now, at the moment of sending — the breaker gives a
//     permit; so an outage stops at the breaker everything that has not left yet;
//   result → success, bad data (the destination answered: it is up) or a transient failure;
//     a transient failure while the breaker is (now) not closed is an outage, not the
//     record's fault: the record goes back to the head of its gate, ahead of every later
//     record of its partition, and waits.
// While the breaker is not closed, every partition with records queued here is paused (its
// consumption stops; nothing goes to a retry tier or the DLQ because of the outage); when it
// closes they are resumed.
// Two optional limits narrow "has room": an HTTP destination's concurrency limit (fixed, or
// adaptive: slow start after the breaker closes, halved on overload; concurrency_limit.h),
// and a route's rate limit (a token bucket; rate_limiter.h). A record due without a token
// waits for the wake-up at the next token; when more than kRateQueueBound records wait here
// for tokens, the partitions feeding them are paused (as in an outage) until the queue is
// down to half of it.
//
// Threading: engine thread only.

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "config/config.h"
#include "engine/circuit_breaker.h"
#include "engine/concurrency_limit.h"
#include "engine/error_classes.h"
#include "engine/in_flight_record.h"
#include "engine/rate_limiter.h"
#include "engine/sink.h"

namespace sluice::engine {

class HttpSink;

// What a destination asks of the engine.
class DestinationEvents {
 public:
  virtual ~DestinationEvents() = default;
  // The sink accepted the record: its result comes later.
  virtual void on_dispatched(InFlightRecord& record) = 0;
  // The sink refused the record at once, for what it is (e.g. too large): bad data.
  virtual void on_refused(InFlightRecord& record, const std::string& error) = 0;
  // Call pump() of `destination` again at `when` (breaker half-opening, local queue full).
  virtual void wake_destination_at(int destination, std::chrono::steady_clock::time_point when) = 0;
  // Pause (`held`) or resume `partition` because this destination holds its records back.
  virtual void hold_for_outage(PartitionState& partition, bool held) = 0;
  // The breaker changed state (for metrics and logs).
  virtual void on_breaker_transition(int destination, BreakerState from, BreakerState to) = 0;
  // `record` was due but had to wait for a token of the rate limit (counted once per wait).
  virtual void on_rate_limited(InFlightRecord& record) = 0;
};

class Destination {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  // `capacity`: records in flight at once (0: no limit, a topic's producer queue bounds it).
  Destination(int index, std::unique_ptr<Sink> sink, HttpSink* http, config::Ordering ordering, int capacity,
              const BreakerSettings& breaker, DestinationEvents& events);
  Destination(Destination&&) = delete;

  int index() const { return index_; }
  const std::string& name() const { return sink_->name(); }
  Sink& sink() { return *sink_; }
  HttpSink* http() const { return http_; }
  CircuitBreaker& breaker() { return breaker_; }

  // Narrows the room to `limit` (HTTP destinations; set once, before the first record).
  void set_concurrency_limit(ConcurrencyLimit limit) { limit_ = limit; }
  // Sends records only with a token of `rate` (set once, before the first record).
  void set_rate_limit(RateLimiter rate) { rate_ = rate; }
  // Records in flight at once now: the concurrency limit, else the capacity (0: no limit).
  int concurrency_limit() const;
  // More records queued than this while a rate limit holds them back pauses their partitions.
  static constexpr size_t kRateQueueBound = 256;

  // Queues `record` behind its gate (step Queued) and sends what may go.
  void offer(InFlightRecord& record, TimePoint now);
  // Sends what the gates, the capacity and the breaker allow now.
  void pump(TimePoint now);
  // The wake-up asked for through DestinationEvents::wake_destination_at came.
  void wake(TimePoint now) {
    wake_scheduled_ = false;
    rate_wake_scheduled_ = false;
    pump(now);
  }

  // Overloaded: a transient failure that says the destination takes too much (HTTP 429 or 503,
  // a timeout); it also cuts an adaptive concurrency limit.
  enum class Result { Delivered, BadData, Transient, Overloaded, Cancelled };
  enum class Verdict {
    Delivered,  // done: complete it
    BadData,    // the destination refuses this record: DLQ
    Retry,      // failed while the breaker stayed closed: the next retry tier
    Waiting,    // an outage: queued again at the head of its gate
    Cancelled,  // shut down before an answer: give it up (redelivered after a restart)
  };
  // The result of a dispatched record. Call pump() afterwards.
  Verdict on_result(InFlightRecord& record, Result result, TimePoint now,
                    std::optional<std::chrono::milliseconds> retry_after = std::nullopt);

  // Takes every queued (not dispatched) record of `partition` — of every partition when
  // nullptr — out of the queues, appending them to `out`.
  void withdraw(const PartitionState* partition, std::vector<InFlightRecord*>& out);

  // Takes the queued records of `record`'s gate for which `match` holds out of it, appending
  // them to `out` in queue order (retry.ordering: key takes a failed record's followers).
  void withdraw_matching(const InFlightRecord& record, const std::function<bool(const InFlightRecord&)>& match,
                         std::vector<InFlightRecord*>& out);

  // Records queued, not dispatched.
  size_t queued() const { return queued_; }
  // Records dispatched and not yet answered.
  int in_flight() const { return in_flight_; }
  // Records held back by a breaker that is not closed (the waiting-records gauge).
  size_t waiting_on_breaker() const { return breaker_.current_state() == BreakerState::Closed ? 0 : queued_; }

 private:
  struct GateKey {
    const PartitionState* partition = nullptr;  // nullptr: the one gate of `none`
    std::string key;                            // ordering: key only
    bool operator==(const GateKey&) const = default;
  };
  struct GateKeyHash {
    size_t operator()(const GateKey& key) const {
      return std::hash<const void*>()(key.partition) ^ (std::hash<std::string>()(key.key) << 1);
    }
  };
  struct Gate {
    std::deque<InFlightRecord*> queued;
    int in_flight = 0;
    bool ready = false;  // in ready_
    const GateKey* key = nullptr;  // its key in gates_ (nullptr: the one gate of `none`)
  };

  GateKey key_of(const InFlightRecord& record) const;
  Gate& gate_of(const InFlightRecord& record);
  bool gate_has_room(const Gate& gate) const { return ordering_ == config::Ordering::None || gate.in_flight == 0; }
  bool has_room() const {
    const int room = concurrency_limit();
    return room == 0 || in_flight_ < room;
  }
  // Whether a token is there now; if not, counts `waiting`'s wait (once) and asks for a
  // wake-up at the next token.
  bool rate_allows(InFlightRecord& waiting, TimePoint now);
  // Sends `record` with `permit`; false when the sink could not take it now (it is queued
  // again at its gate's head).
  bool dispatch(Gate& gate, InFlightRecord& record, CircuitBreaker::Permit permit, TimePoint now);
  void make_ready(Gate& gate);
  void enqueue(Gate& gate, InFlightRecord& record, bool at_head);
  // The partitions with records queued here (a walk over the queues).
  std::unordered_set<PartitionState*> partitions_queued() const;
  // Pauses partitions with queued records while the breaker is not closed or the rate limit
  // holds too many back; resumes them when it closes (or they have nothing queued any more).
  // `walk`: look at the queues even if only the rate limit holds them, and held them before.
  void update_holds(bool walk = false);
  void hold(PartitionState& partition);
  void drop_gate_if_idle(const GateKey& key, Gate& gate);
  // The same for a gate pump() takes out of ready_ (its key is the map's own).
  void drop_if_idle(Gate& gate);
  void withdraw_from(Gate& gate, const PartitionState* partition, std::vector<InFlightRecord*>& out);

  const int index_;
  std::unique_ptr<Sink> sink_;
  HttpSink* const http_;
  const config::Ordering ordering_;
  const int capacity_;
  DestinationEvents& events_;
  CircuitBreaker breaker_;
  std::unordered_map<GateKey, Gate, GateKeyHash> gates_;  // ordering partition or key
  Gate single_gate_;                                        // ordering none
  std::deque<Gate*> ready_;  // gates with a record that may go once the breaker allows
  size_t queued_ = 0;
  int in_flight_ = 0;
  std::unordered_set<PartitionState*> held_partitions_;  // paused for this destination's outage
  bool wake_scheduled_ = false;
  TimePoint send_blocked_until_{};  // the sink's local queue was full
  std::optional<ConcurrencyLimit> limit_;
  std::optional<RateLimiter> rate_;
  bool rate_held_ = false;                      // kRateQueueBound passed: partitions paused
  bool rate_wake_scheduled_ = false;            // a wake-up at the next token is asked for
  const InFlightRecord* rate_waiting_ = nullptr;  // the record whose wait was counted last
};

}  // namespace sluice::engine
