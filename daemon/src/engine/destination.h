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
// Batches (an HTTP route with `http.batch`, http_batch.h): what may go leaves in batches
// instead of one by one. A batch is one request: one breaker permit, one place in the
// concurrency limit, a token per record. It takes, gate after ready gate, all the consecutive
// records each gate has queued, up to max_records and max_bytes, once that much is there or
// `linger` after the first of them; a gate then stays shut until every record it gave is
// answered, so the next batch carries its later records only after this one was answered:
// each partition (or key) still goes in offset order. The answer is the batch's: a success
// delivers every record; a transient failure is each record's (the retry tiers, or back to
// the head of its gate, in order, in an outage); a refusal as bad data splits the batch in
// halves, sent one after the other, until the single records refused are left
// (destination_batch.cc).
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
#include "engine/flat_table.h"
#include "engine/http_batch.h"
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
  // A batch request went out (a part of a split batch too).
  virtual void on_batch_sent(int destination, const Batch& batch) = 0;
  // A batch refused as bad data was split in halves, to be sent again.
  virtual void on_batch_split(int destination) = 0;
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
  // Sends records in batches (set once, before the first record; the sink takes batches).
  void set_batches(BatchSettings settings) { batching_ = settings; }
  bool batched() const { return batching_.has_value(); }
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
    linger_wake_scheduled_ = false;
    pump(now);
  }

  // Start loading what offer(record) and on_result(record) will read, a few records ahead: under
  // ordering: key a gate and its table slot are out of the cache by then (thousands of keys
  // are in flight), and loading them while other records are handled hides that wait.
  void prefetch_offer(const InFlightRecord& record) const {
    if (ordering_ == config::Ordering::Key) key_gates_.prefetch(key_gate_name(record));
  }
  void prefetch_result(const InFlightRecord& record) const {
    if (ordering_ != config::Ordering::Key) return;
    __builtin_prefetch(record.destination_gate);
    key_gates_.prefetch(record.destination_gate_name);
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

  using BatchVerdicts = std::vector<std::pair<InFlightRecord*, Verdict>>;
  // The result of batch `id` (a batched destination). Appends to `out` each record that has
  // its verdict now — not those of a refused batch that are sent again in a part of it.
  // Returns when the batch was sent. Call pump() afterwards.
  TimePoint on_batch_result(uint64_t id, Result result, TimePoint now, std::optional<std::chrono::milliseconds> retry_after,
                            BatchVerdicts& out);
  // The route of the first record of batch `id` (sent, not answered yet).
  int batch_route(uint64_t id) const { return batches_.at(id).records.front()->route; }

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
  // ordering: partition — a gate per input partition, found by its PartitionState.
  struct GateKey {
    const PartitionState* partition = nullptr;
    bool operator==(const GateKey&) const = default;
  };
  struct GateKeyHash {
    size_t operator()(const GateKey& key) const { return std::hash<const void*>()(key.partition); }
  };
  struct Gate {
    std::deque<InFlightRecord*> queued;
    int in_flight = 0;
    bool ready = false;  // in ready_
    int64_t queued_bytes = 0;  // batches: the values of `queued`
    uint64_t name = 0;  // a key's gate (ordering: key): its name in key_gates_
  };

  using GateMap = std::unordered_map<GateKey, Gate, GateKeyHash>;

  // ordering: key — a key's gate is named by a hash of its input partition and its key, not
  // by the key: no string is built per record. Two keys whose names collide share a gate,
  // which only orders them more than needed (the followers of a failed record are still taken
  // by their key, withdraw_matching). The gates are in a flat table, because under this
  // ordering a gate comes and goes with nearly every record.
  static uint64_t key_gate_name(const InFlightRecord& record);
  // At most this many idle key gates kept for reuse (each with its queue's buffer): enough for
  // the keys in flight at once in the common case, not one per key ever seen.
  static constexpr size_t kMaxSpareGates = 16384;
  // Takes an idle key gate out of key_gates_, keeping it (and its queue's buffer) for the next
  // key that needs one.
  void retire_key_gate(Gate& gate);
  // Calls `visit` with every gate that exists now (the one of `none`, a partition's, a key's).
  template <typename Visit>
  void for_each_gate(Visit&& visit) const;

  Gate& gate_of(const InFlightRecord& record);
  bool gate_has_room(const Gate& gate) const { return ordering_ == config::Ordering::None || gate.in_flight == 0; }
  bool has_room() const {
    const int room = concurrency_limit();
    return room == 0 || in_flight_ < room;
  }
  // Whether a token is there now; if not, counts `waiting`'s wait (once) and asks for a
  // wake-up at the next token.
  bool rate_allows(InFlightRecord& waiting, TimePoint now);
  // Sends what may go one record at a time (pump() of a destination without batches).
  void pump_records(TimePoint now);
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
  // Retires `gate` if it is a key's and idle (nothing queued or in flight, not in ready_).
  void drop_if_idle(Gate& gate);
  // The gate a dispatched record left (it exists while the record is out).
  Gate& gate_in_flight(const InFlightRecord& record);
  // Tells the breaker and the concurrency limit how a request ended.
  void judge(const CircuitBreaker::Permit& permit, Result result, TimePoint sent_at, TimePoint now,
             std::optional<std::chrono::milliseconds> retry_after);

  // Batches (destination_batch.cc).
  void pump_batches(TimePoint now);
  // Takes the next batch from the ready gates (with a token per record).
  Batch take_batch(TimePoint now);
  void send_batch(Batch batch, CircuitBreaker::Permit permit, TimePoint now);
  // `record` of an answered batch leaves its gate with `verdict` (Waiting: back at its head).
  void finish(InFlightRecord& record, Verdict verdict, BatchVerdicts& out);
  // Keeps the count of records a batch may take now (queued at gates with room): `record`
  // joins (+1) or leaves (-1) the queue of `gate`; `gate` gains (+1) or loses (-1) room.
  void count_queued(Gate& gate, const InFlightRecord& record, int sign);
  void count_room(Gate& gate, int sign);
  void withdraw_from(Gate& gate, const PartitionState* partition, std::vector<InFlightRecord*>& out);

  const int index_;
  std::unique_ptr<Sink> sink_;
  HttpSink* const http_;
  const config::Ordering ordering_;
  const int capacity_;
  DestinationEvents& events_;
  CircuitBreaker breaker_;
  GateMap gates_;                                     // ordering: partition
  FlatTable<Gate> key_gates_;                         // ordering: key, by key_gate_name()
  std::vector<std::unique_ptr<Gate>> spare_gates_;    // retired key gates, for reuse
  Gate single_gate_;                                  // ordering: none
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
  // Batches.
  std::optional<BatchSettings> batching_;
  std::unordered_map<uint64_t, Batch> batches_;  // sent, not answered, by id
  std::deque<Batch> resend_;                     // parts of refused batches, to send before new ones
  int64_t available_ = 0;                        // records queued at gates with room
  int64_t available_bytes_ = 0;                  // ... their values' bytes
  std::optional<TimePoint> forming_since_;       // when the first of them became available
  bool linger_wake_scheduled_ = false;
  uint64_t next_batch_id_ = 1;
};

}  // namespace sluice::engine
