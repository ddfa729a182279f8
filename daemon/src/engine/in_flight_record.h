#pragma once
// One consumed record between consumption and its final outcome, plus the pool that owns all
// of them. A record's address is handed to librdkafka as the produce opaque and used in the
// engine's queues; it stays valid until the engine releases it back to the pool.
//
// Threading: engine thread only (the stage thread reads and decides a record while it holds
// it, see StageThread).

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/outcome.h"
#include "engine/circuit_breaker.h"
#include "engine/partition_state.h"
#include "engine/step_ledger.h"
#include "fingerprint/fingerprint.h"
#include "kafka/message.h"
#include "stages/stage.h"

namespace sluice::engine {

// How much of the original a DLQ record carries. A level is given up for the next when the
// record is too large for the producer or the broker refuses it as bad data; the last level
// holds nothing whose size depends on the record, so a refusal there is the environment's.
// (dlq.format: raw keeps value and key whole at Full and Truncated; see raw_dead_letter.h.)
enum class DeadLetterLevel {
  Full,       // value, key and headers as they were
  Truncated,  // value and key as 64 KiB prefixes with size and SHA-256; large headers left out
              // (raw: value and key whole, the original headers left out)
  Minimal,    // sizes and digests only; no original headers; the key only when small
};

struct InFlightRecord {
  kafka::Message message;  // owns value, key and headers as consumed (zero copy)
  std::shared_ptr<PartitionState> partition;
  int64_t offset = 0;
  int64_t bytes = 0;  // key + value, for the in-flight byte budget
  // The record's Kafka timestamp (-1: none), read while the consumed message is still in the
  // cache rather than at completion, when it no longer is.
  int64_t timestamp_ms = -1;
  bool awaiting_delivery = false;  // a produce or request for this record is not answered yet
  // Consumed from an inbound topic: its sluice-* headers are not ours, and are renamed on the
  // stage thread before anything reads them (StageRunner::run); `replayed`: it carried
  // sluice-replay-count (re-driven by sluice replay), found there too.
  bool inbound = false;
  bool replayed = false;
  bool holds_reservation = false;  // it owns the dedup reservation of `fingerprint`
  // Exactly-once: an output of this record is in the open transaction (or it needs none any
  // more), so records behind it in its partition may produce theirs.
  bool output_released = false;
  bool waiting_for_turn = false;  // ... and it waits for that (OutputOrder::may_produce said no)

  fingerprint::Fingerprint fingerprint;
  int route = -1;
  CircuitBreaker::Permit permit;  // of the current delivery attempt

  // Retry state, read from the sluice-retry-* headers of a record that came from a tier.
  int retry_count = 0;       // failed deliveries so far (the tier it came from + 1)
  int64_t retry_due_ms = 0;  // epoch ms before which it must not be processed
  int retry_tier = -1;       // the tier its retry record goes to
  std::string last_error;    // the failure that sent it to a tier or the DLQ
  std::optional<std::chrono::milliseconds> retry_after;  // the sink asked to wait this long
  int http_status = 0;            // an HTTP route's answer, for the DLQ envelope
  std::string response_excerpt;   // the first 1 KiB of its body

  std::string correlation_id;  // from the message, for log lines (an id, never the body)

  // The ordering gate of its destination it was sent from, while it is out (Destination's own,
  // so that a result needs no lookup of it).
  void* destination_gate = nullptr;
  uint64_t destination_gate_name = 0;  // a key's gate (ordering: key): its name in the gate table

  // retry.ordering: key — the input partition whose key order the record keeps, and its offset
  // there: its own for an inbound record, its origin for a tier record (null: not tracked, e.g.
  // a record without a key, or ordering none). A tier record's origin may be revoked
  // meanwhile, so it is kept alive by order_partition_owner; an inbound record's is its own
  // partition, kept by `partition` (no second reference taken per record).
  PartitionState* order_partition = nullptr;
  std::shared_ptr<PartitionState> order_partition_owner;
  int64_t order_offset = -1;
  int64_t parked_behind = -1;  // its tier record parks it behind this offset's record (-1: it failed)
  int64_t tier_writes = 0;     // its tier records so far (sluice-tier-writes of the one it came from)

  // What the stages decided (Continue: on to dedup), and why it is being dead-lettered or
  // rejected.
  stages::Verdict verdict = stages::Verdict::Continue;
  std::string_view stage;
  Reason reason = Reason::Delivered;
  std::string detail;
  DeadLetterLevel dead_letter_level = DeadLetterLevel::Full;

  int attempts = 0;  // failed produce attempts of the current step (for backoff)
  std::chrono::steady_clock::time_point consumed_at;  // for the oldest-unfinished age
  std::chrono::steady_clock::time_point sent_at;      // when the current delivery started

  // Records with the same fingerprint that arrived while this one was in flight, in arrival
  // order: they become duplicates if this one is forwarded, or take over otherwise.
  std::vector<InFlightRecord*> waiters;

  std::string_view value() const { return message.value(); }
  bool value_is_null() const { return message.value_is_null(); }
  std::string_view key() const { return message.key(); }
  // std::hash of key(). Set on the stage thread, which reads the record's bytes anyway: on the
  // engine thread they are long out of the cache, and hashing them there (ordering: key names
  // a gate by it, for every record) was a cache miss per record. Computed here for a record
  // that did not pass the stages; the value is the same either way.
  uint64_t key_hash() const { return key_hashed ? key_hash_value : hash_key(key()); }
  void remember_key_hash() {
    key_hash_value = hash_key(key());
    key_hashed = true;
  }
  static uint64_t hash_key(std::string_view key) { return std::hash<std::string_view>()(key); }
  uint64_t key_hash_value = 0;
  bool key_hashed = false;

  Step step() const { return step_; }
  // The one way a record changes step, so its pool's ledger always agrees with the records.
  // A record made outside a pool (in tests) has no ledger and only changes step.
  void set_step(Step to) {
    if (ledger_ != nullptr) {
      if (in_ledger_) ledger_->leave(step_, step_since_);
      ledger_->enter(to, step_since_);
      in_ledger_ = true;
    }
    step_ = to;
  }

 private:
  friend class RecordPool;
  Step step_ = Step::Dedup;
  StepLedger* ledger_ = nullptr;
  bool in_ledger_ = false;  // counted in a step of ledger_ (from its first set_step on)
  std::chrono::steady_clock::time_point step_since_;
};

class RecordPool {
 public:
  // With a ledger, every record acquired counts in it from its first set_step() until released.
  explicit RecordPool(StepLedger* ledger = nullptr) : ledger_(ledger) {}

  InFlightRecord* acquire() {
    ++live_;
    if (!free_.empty()) {
      InFlightRecord* record = free_.back();
      free_.pop_back();
      return record;
    }
    InFlightRecord* record = &storage_.emplace_back();
    record->ledger_ = ledger_;
    return record;
  }
  void release(InFlightRecord* record) {
    --live_;
    if (record->in_ledger_) record->ledger_->leave(record->step_, record->step_since_);
    record->in_ledger_ = false;
    record->step_ = Step::Dedup;
    record->message.reset();
    record->partition.reset();
    record->timestamp_ms = -1;
    record->awaiting_delivery = false;
    record->holds_reservation = false;
    record->output_released = false;
    record->waiting_for_turn = false;
    record->route = -1;
    record->verdict = stages::Verdict::Continue;
    record->stage = {};
    record->reason = Reason::Delivered;
    record->detail.clear();
    record->correlation_id.clear();
    record->inbound = false;
    record->replayed = false;
    record->destination_gate = nullptr;
    record->destination_gate_name = 0;
    record->key_hashed = false;
    record->order_partition = nullptr;
    record->order_partition_owner.reset();
    record->order_offset = -1;
    record->parked_behind = -1;
    record->tier_writes = 0;
    record->dead_letter_level = DeadLetterLevel::Full;
    record->attempts = 0;
    record->permit = {};
    record->retry_count = 0;
    record->retry_due_ms = 0;
    record->retry_tier = -1;
    record->last_error.clear();
    record->retry_after.reset();
    record->http_status = 0;
    record->response_excerpt.clear();
    record->waiters.clear();
    free_.push_back(record);
  }
  int64_t live() const { return live_; }
  // Destroys the consumed message of every record, finished or not. librdkafka's consumer
  // cannot be destroyed while any message it handed out lives (its destruction waits for
  // them), so this comes first when the engine stops with records unfinished; the records
  // themselves stay until the pool goes.
  void drop_messages() {
    for (InFlightRecord& record : storage_) record.message.reset();
  }

 private:
  std::deque<InFlightRecord> storage_;  // deque: growing never moves existing records
  std::vector<InFlightRecord*> free_;
  StepLedger* const ledger_;
  int64_t live_ = 0;
};

}  // namespace sluice::engine
