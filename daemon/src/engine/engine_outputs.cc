// The engine's outputs: DLQ, retry-tier and rejected records, the producer's delivery reports
// and the HTTP responses, and what the destinations tell the engine.

#include <algorithm>

#include "common/assert.h"
#include "common/log.h"
#include "engine/engine.h"
#include "engine/http_sink.h"
#include "engine/trace_context.h"
#include "kafka/client.h"

namespace sluice::engine {
namespace {

using std::chrono::milliseconds;

// A record the producer's local queue cannot take yet is offered again after this.
constexpr milliseconds kQueueFullRetry{20};

bool purged(rd_kafka_resp_err_t error) {
  return error == RD_KAFKA_RESP_ERR__PURGE_QUEUE || error == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT;
}

// The level below `level` (Minimal stays Minimal).
DeadLetterLevel smaller(DeadLetterLevel level) {
  return level == DeadLetterLevel::Full ? DeadLetterLevel::Truncated : DeadLetterLevel::Minimal;
}

}  // namespace

// The DLQ record holds less next time; counted when it first leaves the full form.
void Engine::lower_dead_letter_level(InFlightRecord* record, DeadLetterLevel to) {
  if (record->dead_letter_level == DeadLetterLevel::Full && to != DeadLetterLevel::Full) probe_.count_truncated_envelope();
  record->dead_letter_level = to;
}

bool Engine::may_produce(InFlightRecord* record) { return output_order_.may_produce(*record); }

rd_kafka_resp_err_t Engine::produce_for(InFlightRecord* record, kafka::OutboundRecord& out, const char* destination) {
  if (!committer_->before_produce()) {
    fatal_error_.store(true);
    return RD_KAFKA_RESP_ERR__FATAL;
  }
  out.opaque = record;
  rd_kafka_resp_err_t error = producer_->produce(out);
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    probe_.count_produce_error(destination, out.topic, error);
    return error;
  }
  record->awaiting_delivery = true;
  record->partition->awaiting_delivery += 1;
  if (output_order_.enabled()) {
    committer_->on_output(record->partition, record->offset);
    output_order_.release(*record, turns_);
  }
  return RD_KAFKA_RESP_ERR_NO_ERROR;
}

// The same step is tried again: soon when the local queue was full, after a growing backoff
// otherwise. Used for sluice's own records (retry, DLQ, rejected): an environment failure
// there is waited out, never turned into another outcome.
void Engine::try_again_later(InFlightRecord* record, rd_kafka_resp_err_t error) {
  record->attempts += 1;
  timers_.at(clock_.now() + (error == RD_KAFKA_RESP_ERR__QUEUE_FULL ? kQueueFullRetry : backoff(record->attempts)), record);
}

void Engine::dead_letter(InFlightRecord* record, std::string_view stage, Reason reason, std::string detail) {
  record->stage = stage;
  record->reason = reason;
  record->detail = std::move(detail);
  record->attempts = 0;
  probe_.log_record_event("record dead-lettered", *record, now_.steady);
  start_dead_letter(record);
}

void Engine::start_dead_letter(InFlightRecord* record) {
  record->set_step(Step::DeadLettering);
  if (!may_produce(record)) return;
  while (true) {
    DeadLetterRecord dlq;
    build_dead_letter_record(*record, dead_letter_settings_, tiers_.origin_of(*record), clock_.wall(), dlq);
    lower_dead_letter_level(record, dlq.level);
    rd_kafka_resp_err_t error = produce_for(record, dlq.out, "dlq");
    if (error == RD_KAFKA_RESP_ERR_NO_ERROR) return;
    // Too large or otherwise refused for what it holds: the next level holds less. The last
    // holds nothing whose size depends on the record, so its refusal is the environment's.
    if (classify_produce_error(error) == ErrorClass::BadData && record->dead_letter_level != DeadLetterLevel::Minimal) {
      lower_dead_letter_level(record, smaller(record->dead_letter_level));
      continue;
    }
    if (error != RD_KAFKA_RESP_ERR__QUEUE_FULL && probe_.should_log("dlq produce refused", now_.steady)) {
      log_record(log::Level::Error, "dlq produce refused", record->message,
                 {{"topic", config_->dlq.topic}, {"error", kafka::error_name(error)}});
    }
    try_again_later(record, error);
    return;
  }
}

void Engine::start_reject(InFlightRecord* record) {
  record->set_step(Step::Rejecting);
  if (!may_produce(record)) return;
  const std::string& topic = config_->pipeline.filter.rejected_topic;
  kafka::OutboundRecord out = build_rejected_record(*record, topic);
  rd_kafka_resp_err_t error = produce_for(record, out, "rejected");
  if (error == RD_KAFKA_RESP_ERR_NO_ERROR) return;
  if (classify_produce_error(error) == ErrorClass::BadData) {
    refuse_output(record, stage_name::kFilter, topic, error);
    return;
  }
  try_again_later(record, error);
}

// Produces the record to its retry tier: value, key and headers unchanged, plus the retry
// headers. The input offset completes once the tier acknowledged it.
void Engine::start_retry(InFlightRecord* record) {
  record->set_step(Step::Retrying);
  if (!may_produce(record)) return;
  SLUICE_ASSERT(record->retry_tier >= 0, "a retrying record has its tier");
  const size_t tier = static_cast<size_t>(record->retry_tier);
  const milliseconds hold = tiers_.hold(tier, record->retry_after);
  std::optional<milliseconds> longer_hold;
  if (hold > tiers_.delay(tier)) longer_hold = hold;
  const Origin origin = tiers_.origin_of(*record);
  kafka::OutboundRecord out = build_retry_record(*record, tiers_.topic(tier), clock_.epoch_ms() + hold.count(),
                                                 longer_hold, origin);
  // retry.ordering: key — into the tier partition with its input partition's number, which
  // range assignment keeps on the instance that has the input partition.
  if (parked_) out.partition = origin.partition;
  rd_kafka_resp_err_t error = produce_for(record, out, "retry");
  if (error == RD_KAFKA_RESP_ERR_NO_ERROR) return;
  if (classify_produce_error(error) == ErrorClass::BadData) {
    refuse_output(record, stage_name::kRetry, tiers_.topic(tier), error);
    return;
  }
  try_again_later(record, error);
}

// A retry-tier record or rejected copy the broker refuses as it is (e.g. too large for that
// topic) would be refused forever: the record goes to the DLQ instead.
void Engine::refuse_output(InFlightRecord* record, std::string_view stage, const std::string& topic,
                           rd_kafka_resp_err_t error) {
  dead_letter(record, stage, Reason::OutputRefused, topic + " refused it: " + kafka::error_name(error));
}

void Engine::settle_deliveries() {
  // A delivery is settled long after its record was last touched: at full speed tens of
  // thousands of records are in flight, so the record, its consumed message and its offset
  // entry are all out of the cache. They are prefetched a few deliveries ahead, which
  // overlaps those memory waits with the work in between.
  constexpr size_t kAhead = 4;
  for (size_t i = 0; i < deliveries_.size(); ++i) {
    if (i + kAhead < deliveries_.size()) {
      const InFlightRecord& next = *deliveries_[i + kAhead].record;
      __builtin_prefetch(next.message.address());
      next.partition->offsets.prefetch(next.offset);
      if (next.step() == Step::Forwarding) destinations_->for_route(next.route).prefetch_result(next);
    }
    on_delivery(deliveries_[i].record, deliveries_[i].error);
  }
  deliveries_.clear();
}

void Engine::on_delivery(void* opaque, rd_kafka_resp_err_t error) {
  auto* record = static_cast<InFlightRecord*>(opaque);
  SLUICE_ASSERT(record != nullptr && record->awaiting_delivery, "delivery report for a record not being produced");
  record->awaiting_delivery = false;
  record->partition->awaiting_delivery -= 1;
  const bool ok = error == RD_KAFKA_RESP_ERR_NO_ERROR;
  if (record->step() == Step::Forwarding) {
    Destination::Result result = Destination::Result::Delivered;
    if (purged(error)) {
      result = Destination::Result::Cancelled;
    } else if (!ok) {
      result = destinations_->errors_of(record->route).classify(error) == ErrorClass::BadData
                   ? Destination::Result::BadData
                   : Destination::Result::Transient;
    }
    on_destination_result(record, result, kafka::error_name(error), std::nullopt);
    return;
  }
  if (record->partition->revoked || purged(error)) {
    // Its partition went away (or its transaction was aborted), or the stop gave it up: the
    // record is read again from the committed offset.
    abandon(record);
    return;
  }
  switch (record->step()) {
    case Step::Retrying:
      if (ok) {
        probe_.count_tier_send(tiers_.topic(static_cast<size_t>(record->retry_tier)));
        complete(record, record->parked_behind >= 0 ? Reason::ParkedBehindKey : Reason::TransientError);
        return;
      }
      probe_.count_produce_error("retry", tiers_.topic(static_cast<size_t>(record->retry_tier)), error);
      if (classify_produce_error(error) == ErrorClass::BadData) {
        refuse_output(record, stage_name::kRetry, tiers_.topic(static_cast<size_t>(record->retry_tier)), error);
        return;
      }
      if (probe_.should_log("retry tier delivery failed", now_.steady)) {
        log_record(log::Level::Warn, "retry tier delivery failed; retrying", record->message,
                   {{"error", kafka::error_name(error)}, {"attempt", record->attempts}});
      }
      try_again_later(record, error);
      return;
    case Step::DeadLettering:
      if (ok) {
        complete(record, record->reason);
        return;
      }
      probe_.count_produce_error("dlq", config_->dlq.topic, error);
      if (classify_produce_error(error) == ErrorClass::BadData && record->dead_letter_level != DeadLetterLevel::Minimal) {
        lower_dead_letter_level(record, smaller(record->dead_letter_level));
        start_dead_letter(record);
        return;
      }
      if (probe_.should_log("dlq delivery failed", now_.steady)) {
        log_record(log::Level::Warn, "dlq delivery failed; retrying", record->message,
                   {{"topic", config_->dlq.topic}, {"error", kafka::error_name(error)}, {"attempt", record->attempts + 1}});
      }
      try_again_later(record, error);
      return;
    case Step::Rejecting:
      if (ok) {
        complete(record, record->reason);
        return;
      }
      probe_.count_produce_error("rejected", config_->pipeline.filter.rejected_topic, error);
      if (classify_produce_error(error) == ErrorClass::BadData) {
        refuse_output(record, stage_name::kFilter, config_->pipeline.filter.rejected_topic, error);
        return;
      }
      try_again_later(record, error);
      return;
    case Step::Staging:
    case Step::Held:
    case Step::Dedup:
    case Step::WaitingOnPeer:
    case Step::Queued:
    case Step::Forwarding:
      break;
  }
  SLUICE_ASSERT(false, "delivery report for a record in a step that does not produce");
}

void Engine::drain_http_responses() {
  http_responses_.clear();
  destinations_->take_responses(http_responses_);
  if (!http_responses_.empty()) refresh_now();
  for (const auto& [destination, response] : http_responses_) on_http_response(destination, response);
  http_responses_.clear();
  // A response frees its gate for the next record: send those now, as callers (the
  // revocation drain) wait for them.
  destinations_->flush_requests();
}

namespace {

// What an HTTP answer (not a cancellation) means for the record or batch it answers.
struct HttpAnswer {
  Destination::Result result = Destination::Result::Delivered;
  std::string error;
  std::optional<milliseconds> retry_after;
};

HttpAnswer read_answer(const http::Response& response, const RouteErrors& errors,
                       std::chrono::system_clock::time_point wall) {
  using Outcome = http::Response::Outcome;
  HttpAnswer answer;
  if (response.outcome == Outcome::Status && response.status >= 200 && response.status < 300) return answer;
  answer.result = Destination::Result::Transient;
  if (response.outcome == Outcome::Status) {
    answer.result = errors.classify_http(response.status) == ErrorClass::BadData ? Destination::Result::BadData
                                                                                 : Destination::Result::Transient;
    answer.error = "HTTP " + std::to_string(response.status);
    if (response.retry_after) answer.retry_after = http::parse_retry_after(*response.retry_after, wall);
    // "Too many requests" and "unavailable" ask for less: they also cut an adaptive limit.
    if (answer.result == Destination::Result::Transient && (response.status == 429 || response.status == 503)) {
      answer.result = Destination::Result::Overloaded;
    }
  } else {
    // Timed out, refused, reset, TLS: always transient (a probe that times out is a failed one).
    // A timeout says the endpoint did not keep up: an overload.
    answer.error = std::string(http::outcome_name(response.outcome));
    if (response.outcome == Outcome::TimedOut) answer.result = Destination::Result::Overloaded;
  }
  return answer;
}

// Keeps what a refusal said, for the DLQ envelope, and how long the endpoint asked to wait.
void note_failure(InFlightRecord& record, const http::Response& response, const HttpAnswer& answer) {
  if (response.outcome == http::Response::Outcome::Status) {
    record.http_status = response.status;
    record.response_excerpt = response.body_excerpt;
  }
  record.retry_after = answer.retry_after;
}

}  // namespace

void Engine::on_http_response(int index, const http::Response& response) {
  Destination& destination = destinations_->at(index);
  HttpSink::Answered answered = destination.http()->on_response(response);
  if (answered.batch != 0) {
    on_batch_response(destination, answered.batch, response);
    return;
  }
  InFlightRecord* record = answered.record;
  if (record == nullptr) return;
  record->awaiting_delivery = false;
  record->partition->awaiting_delivery -= 1;
  if (response.outcome == http::Response::Outcome::Cancelled) {
    // Only at shutdown: the record is left unfinished, and redelivered after the restart.
    on_destination_result(record, Destination::Result::Cancelled, "cancelled", std::nullopt);
    return;
  }
  HttpAnswer answer = read_answer(response, destinations_->errors_of(record->route), clock_.wall());
  if (answer.result != Destination::Result::Delivered) note_failure(*record, response, answer);
  on_destination_result(record, answer.result, answer.error, answer.retry_after);
}

void Engine::on_batch_response(Destination& destination, uint64_t batch, const http::Response& response) {
  HttpAnswer answer{Destination::Result::Cancelled, "cancelled", std::nullopt};
  if (response.outcome != http::Response::Outcome::Cancelled) {
    // Routes sharing an endpoint share its batches: the first record's route judges the answer.
    answer = read_answer(response, destinations_->errors_of(destination.batch_route(batch)), clock_.wall());
  }
  batch_verdicts_.clear();
  const auto sent_at = destination.on_batch_result(batch, answer.result, now_.steady, answer.retry_after, batch_verdicts_);
  destinations_->observe_request(destination, std::chrono::duration<double>(now_.steady - sent_at).count());
  for (const auto& [record, verdict] : batch_verdicts_) {
    record->awaiting_delivery = false;
    record->partition->awaiting_delivery -= 1;
    if (verdict != Destination::Verdict::Delivered) note_failure(*record, response, answer);
    settle_forward(record, verdict, answer.error);
  }
  batch_verdicts_.clear();
  destination.pump(now_.steady);
}

void Engine::on_destination_result(InFlightRecord* record, Destination::Result result, const std::string& error,
                                   std::optional<milliseconds> retry_after) {
  Destination& destination = destinations_->for_route(record->route);
  destinations_->observe_request(destination, std::chrono::duration<double>(now_.steady - record->sent_at).count());
  // A record whose partition went away is given up, whatever the answer — except a forward
  // that arrived with at-least-once delivery: it did happen. With exactly-once its
  // transaction was aborted (or will not commit it), so it did not.
  if (record->partition->revoked && (result != Destination::Result::Delivered || output_order_.enabled())) {
    result = Destination::Result::Cancelled;
  }
  settle_forward(record, destination.on_result(*record, result, now_.steady, retry_after), error);
  destination.pump(now_.steady);
}

void Engine::settle_forward(InFlightRecord* record, Destination::Verdict verdict, const std::string& error) {
  switch (verdict) {
    case Destination::Verdict::Delivered: on_forward_delivered(record); break;
    case Destination::Verdict::BadData:
      probe_.count_route_error(record->route, ErrorClass::BadData);
      on_forward_failed(record, ErrorClass::BadData, error);
      break;
    case Destination::Verdict::Retry:
      probe_.count_route_error(record->route, ErrorClass::Transient);
      on_forward_failed(record, ErrorClass::Transient, error);
      break;
    case Destination::Verdict::Waiting:  // an outage: back at the head of its gate
      probe_.count_route_error(record->route, ErrorClass::Transient);
      break;
    case Destination::Verdict::Cancelled: abandon(record); break;
  }
}

// ---- what the destinations tell the engine -----------------------------------------------

void Engine::on_dispatched(InFlightRecord& record) {
  record.awaiting_delivery = true;
  record.partition->awaiting_delivery += 1;
  if (!output_order_.enabled()) return;
  committer_->on_output(record.partition, record.offset);
  output_order_.release(record, turns_);
  // Exactly-once: identical records waiting on this one are duplicates from now on. If its
  // delivery fails, the transaction that holds it cannot commit, and they are processed
  // again after the rewind; if it commits, it commits their offsets with this output. So
  // they need not wait for the acknowledgement — nor need the records behind them in their
  // partitions, which wait for their turn meanwhile.
  std::vector<InFlightRecord*> duplicates;
  dedup_->forwarded(record, duplicates);
  complete_duplicates(duplicates);
}

void Engine::on_refused(InFlightRecord& record, const std::string& error) {
  probe_.count_route_error(record.route, ErrorClass::BadData);
  on_forward_failed(&record, ErrorClass::BadData, error);
}

void Engine::wake_destination_at(int destination, std::chrono::steady_clock::time_point when) {
  timers_.at_destination(when, destination);
}

void Engine::hold_for_outage(PartitionState& partition, bool held) {
  partition.outage_holds += held ? 1 : -1;
  SLUICE_ASSERT(partition.outage_holds >= 0, "outage holds never go below zero");
  if (!partition.revoked) partitions_->set_pause(partition, kPauseOutage, partition.outage_holds > 0);
}

void Engine::on_rate_limited(InFlightRecord& record) { destinations_->count_rate_limited(record.route); }

void Engine::on_batch_sent(int destination, const Batch& batch) {
  destinations_->count_batch(destinations_->at(destination), batch.records.size());
}

void Engine::on_batch_split(int destination) { destinations_->count_batch_split(destinations_->at(destination)); }

void Engine::on_breaker_transition(int index, BreakerState from, BreakerState to) {
  Destination& destination = destinations_->at(index);
  destinations_->record_transition(destination, to);
  log::Level level = to == BreakerState::Open ? log::Level::Warn : log::Level::Info;
  log::write(level, "circuit breaker state changed",
             {{"sink", destination.name()}, {"from", breaker_state_name(from)}, {"to", breaker_state_name(to)},
              {"waiting_records", static_cast<int64_t>(destination.queued())}});
}

}  // namespace sluice::engine
