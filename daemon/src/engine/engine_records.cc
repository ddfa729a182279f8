// The engine's record state machine: taking records in, the stages, holding retry records
// until due, dedup answers, forwarding, and the final outcomes.

#include <algorithm>

#include "common/assert.h"
#include "common/log.h"
#include "engine/engine.h"
#include "engine/record_headers.h"
#include "engine/trace_context.h"

namespace sluice::engine {
namespace {

using std::chrono::milliseconds;

// Rounds of at most this many records run their CPU stages on the engine thread when the
// stage thread is idle (about 3 µs each, against two thread wake-ups).
constexpr size_t kStagesHereUpTo = 32;

}  // namespace

void Engine::consume_available() {
  const size_t batch_size = static_cast<size_t>(config_->pipeline.batch_size);
  while (consumer_may_have_more_) {
    // While stopping, or after a long backpressure, the consumer is still polled (for
    // rebalance callbacks) but every partition is paused, so no records arrive.
    size_t room = batch_size;
    if (!stopping_ && !backpressure_.paused()) {
      if (backpressure_.stopped()) break;
      room = backpressure_.batch_room(pool_.live(), in_flight_bytes_, batch_size);
    }
    batch_.clear();
    const size_t count = consumer_->poll_batch(batch_, room);
    note_queue_level(count, room);
    if (count == 0) {
      consumer_may_have_more_ = false;
      break;
    }
    refresh_now();
    int64_t batch_bytes = 0;
    for (size_t i = 0; i < batch_.size(); ++i) {
      // A consumed record was written by librdkafka's thread on another core, and its
      // headers are parsed from the fetched bytes on first use (intake looks at them): the
      // first touch of each missed the cache. In Kafka's record format the headers follow
      // the value, so the bytes after the value are loaded too. Hints only.
      if (i + 4 < batch_.size()) __builtin_prefetch(batch_[i + 4].address());
      if (i + 2 < batch_.size() && !batch_[i + 2].value_is_null()) {
        __builtin_prefetch(batch_[i + 2].value().data() + batch_[i + 2].value_size());
      }
      batch_bytes += static_cast<int64_t>(batch_[i].value_size());
      handle_message(std::move(batch_[i]));
    }
    batch_.clear();
    backpressure_.observe_batch(static_cast<int64_t>(count), batch_bytes);
    consumer_may_have_more_ = count == room;
    submit_to_stages();
    collect_staged();
    run_dedup();
    run_turns();
    update_backpressure();
  }
}

// A poll that filled its room left records behind: the prefetch queue was ahead of us, and
// may have reached librdkafka's limit, after which its fetchers look again only when woken.
// The poll that drains it wakes them (kafka/fetch_waker.h), once per fill-and-drain.
void Engine::note_queue_level(size_t count, size_t room) {
  if (count == room) {
    queue_was_ahead_ = true;
    return;
  }
  if (queue_was_ahead_) {
    queue_was_ahead_ = false;
    consumer_->wake_fetchers();
  }
}

void Engine::handle_message(kafka::Message message) {
  if (message.error() != RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (message.error() == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      // retry.ordering: key asks for these: a scan may end before the last offset it expected
      // when the partition ends in transaction markers.
      const std::shared_ptr<PartitionState>* state = parked_ ? partitions_->of(message) : nullptr;
      if (state != nullptr && (*state)->scan_end >= 0) end_scan(**state);
      return;
    }
    client_error("consumer", message.error(), message.error_text(), false);
    return;
  }
  connectivity_.on_broker_contact();  // a fetch answered
  const std::shared_ptr<PartitionState>* state = partitions_->of(message);
  if (state == nullptr) {
    // A record fetched just before its partition was revoked: the new owner reads it again.
    log::debug("record of an unassigned partition ignored", {{"topic", message.topic()}, {"partition", message.partition()}});
    return;
  }
  PartitionState& partition = **state;
  if (parked_ && partition.retry_tier >= 0 && scan_tier_record(partition, message)) return;
  // A copy of a record this partition's state has seen: the client fetched it again without
  // a rewind of ours (librdkafka 2.0.2 can restart a resumed partition from an older offset).
  // Its original is handled or done, so the copy is dropped; tracking it twice would break
  // the offset order the commits rely on.
  if (partition.offsets.already_seen(message.offset())) {
    if (probe_.should_log("record fetched again", now_.steady)) {
      log::warn("a record fetched again is ignored: its first copy is handled",
                {{"topic", partition.topic}, {"partition", message.partition()}, {"offset", message.offset()}});
    }
    return;
  }
  InFlightRecord* record = pool_.acquire();
  record->message = std::move(message);
  record->partition = *state;
  record->offset = record->message.offset();
  record->bytes = static_cast<int64_t>(record->message.value_size() + record->message.key_size());
  record->timestamp_ms = record->message.timestamp_ms();
  record->consumed_at = now_.steady;
  partition.offsets.track(record->offset, now_.epoch_ms);
  if (partition.in_flight == 0) partition.last_progress = record->consumed_at;  // idle until now
  partition.in_flight += 1;
  in_flight_bytes_ += record->bytes;
  partition.consumed_counter->Increment();
  output_order_.track(*record);

  // An inbound record's sluice-* headers are not ours: renamed on the stage thread, before
  // anything reads them (nothing does before its stages). A tier record's are.
  record->inbound = partition.retry_tier < 0;
  if (!record->inbound && record->message.last_header(header::kReplayCount).has_value()) {
    probe_.count_replayed(partition.topic);
  }
  // A record from a retry tier: how often it failed, and when it may be tried again.
  if (partition.retry_tier >= 0) tiers_.read_retry_state(*record, partition.retry_tier, now_.epoch_ms);
  if (parked_ && !track_key_order(record)) {
    complete(record, Reason::SpareCopy);
    return;
  }
  if (partition.retry_tier >= 0) {
    // Records behind a held one wait behind it, in offset order.
    if (!partition.held.empty() || record->retry_due_ms > now_.epoch_ms) {
      hold(record);
      return;
    }
  }
  process(record);
}

void Engine::process(InFlightRecord* record) {
  record->set_step(Step::Staging);
  if (stage_thread_ == nullptr) {
    stage_runner_->run(*record);
    act_on_stages(record);
    return;
  }
  to_stage_.push_back(record);  // handed over by submit_to_stages(), once per round
}

void Engine::submit_to_stages() {
  if (stage_thread_ == nullptr || to_stage_.empty()) return;
  // A few records are quicker to decide here than to hand over and take back: the two
  // wake-ups cost more than their stages (and add to their latency).
  if (to_stage_.size() <= kStagesHereUpTo && stage_thread_->run_here_if_idle(to_stage_)) {
    for (InFlightRecord* record : to_stage_) act_on_stages(record);
    to_stage_.clear();
    return;
  }
  stage_thread_->submit(to_stage_);
}

void Engine::collect_staged() {
  if (stage_thread_ == nullptr || !stage_thread_->has_finished()) return;
  stage_thread_->take_finished(staged_);
  for (InFlightRecord* record : staged_) act_on_stages(record);
  staged_.clear();
}

void Engine::act_on_stages(InFlightRecord* record) {
  // Revoked while on the stage thread: the partition's new owner processes it.
  if (record->partition->revoked) {
    abandon(record);
    return;
  }
  if (record->replayed) probe_.count_replayed(record->partition->topic);
  switch (record->verdict) {
    case stages::Verdict::DeadLetter:
      dead_letter(record, record->stage, record->reason, std::move(record->detail));
      return;
    case stages::Verdict::Filter:
      if (config_->pipeline.filter.rejected_topic.empty()) {
        complete(record, record->reason);
      } else {
        start_reject(record);
      }
      return;
    case stages::Verdict::Continue:
      if (!dedup_->enqueue(*record)) {
        complete(record, Reason::SeenWithinWindow);
      } else if (record->step() == Step::WaitingOnPeer) {
        hold_key_for_peer(record);
      }
      return;
  }
}

// A retry-tier record that is not due yet: it waits, and so does its partition (paused), while
// every other partition keeps flowing and the consumer keeps polling.
void Engine::hold(InFlightRecord* record) {
  record->set_step(Step::Held);
  PartitionState& partition = *record->partition;
  partition.held.push_back(record);
  if (!partition.release_scheduled) {
    partition.release_scheduled = true;
    milliseconds delay(std::max<int64_t>(0, record->retry_due_ms - clock_.epoch_ms()));
    timers_.at(clock_.now() + delay, record->partition);
    partitions_->set_pause(partition, kPauseRetryWait, true);
  }
}

void Engine::release_held(const std::shared_ptr<PartitionState>& partition) {
  partition->release_scheduled = false;
  if (partition->revoked) return;  // its held records were given up at the revocation
  const int64_t now_ms = clock_.epoch_ms();
  while (!partition->held.empty() && partition->held.front()->retry_due_ms <= now_ms) {
    InFlightRecord* record = partition->held.front();
    partition->held.pop_front();
    process(record);
  }
  if (partition->held.empty()) {
    partitions_->set_pause(*partition, kPauseRetryWait, false);
    return;
  }
  partition->release_scheduled = true;
  timers_.at(clock_.now() + milliseconds(partition->held.front()->retry_due_ms - now_ms), partition);
}

void Engine::run_dedup() {
  if (!dedup_->has_queued()) {
    dedup_->flush_updates();
    return;
  }
  std::vector<InFlightRecord*> duplicates;
  dedup_answers_.clear();
  dedup_->run_round(dedup_answers_, duplicates);
  if (dedup_->down() != ((partitions_->global_pauses() & kPauseDedupDown) != 0)) {
    partitions_->set_pause_all(kPauseDedupDown, dedup_->down());
  }
  // The destination's gate lookups, a few records ahead (Destination::prefetch_offer).
  constexpr size_t kAhead = 4;
  for (size_t i = 0; i < dedup_answers_.size(); ++i) {
    if (i + kAhead < dedup_answers_.size() && dedup_answers_[i + kAhead].kind == DedupCoordinator::Answer::Kind::Forward) {
      const InFlightRecord& next = *dedup_answers_[i + kAhead].record;
      destinations_->for_route(next.route).prefetch_offer(next);
    }
    const DedupCoordinator::Answer& answer = dedup_answers_[i];
    switch (answer.kind) {
      case DedupCoordinator::Answer::Kind::Forward: forward(answer.record); break;
      case DedupCoordinator::Answer::Kind::Duplicate: complete(answer.record, Reason::SeenWithinWindow); break;
      case DedupCoordinator::Answer::Kind::Recheck:
        hold_key_for_peer(answer.record);
        timers_.at(clock_.now() + answer.delay, answer.record);
        break;
      case DedupCoordinator::Answer::Kind::Abandon: abandon(answer.record); break;
    }
  }
  dedup_answers_.clear();
  complete_duplicates(duplicates);
}

void Engine::complete_duplicates(std::vector<InFlightRecord*>& duplicates) {
  for (InFlightRecord* waiter : duplicates) {
    if (waiter->partition->revoked) {
      abandon(waiter);
    } else {
      complete(waiter, Reason::SeenWithinWindow);
    }
  }
  duplicates.clear();
}

// Reserved: on to its destination, which sends it when its turn comes and the breaker allows.
void Engine::forward(InFlightRecord* record) {
  record->set_step(Step::Queued);
  if (record->order_partition && !follow_key_order(record)) return;
  if (!may_produce(record)) return;
  if (!committer_->before_produce()) {
    fatal_error_.store(true);
    return;
  }
  destinations_->for_route(record->route).offer(*record, now_.steady);
}

void Engine::on_forward_delivered(InFlightRecord* record) {
  // With exactly-once this happened when it was dispatched (on_dispatched).
  if (!output_order_.enabled()) {
    std::vector<InFlightRecord*> duplicates;
    dedup_->forwarded(*record, duplicates);
    complete_duplicates(duplicates);
  }
  complete(record, Reason::Delivered);
}

void Engine::on_forward_failed(InFlightRecord* record, ErrorClass error_class, const std::string& error) {
  const std::string& sink = destinations_->for_route(record->route).name();
  record->last_error = error;
  // The record leaves this attempt: its fingerprint must not count as seen when it comes
  // back, and an identical record waiting on it may go ahead.
  give_up_reservation(record);
  if (error_class == ErrorClass::BadData) {
    if (record->order_partition) key_dead_lettered(record);
    dead_letter(record, stage_name::kForward, Reason::ForwardRejected, sink + ": " + error);
    return;
  }
  if (probe_.should_log("forward failed", now_.steady)) {
    log_record(log::Level::Warn, "forward failed; sending to a retry tier", record->message,
               {{"sink", sink}, {"error", error}, {"retry_count", record->retry_count}});
  }
  std::optional<size_t> tier = tiers_.next_tier(record->retry_count);
  if (!tier) {
    if (record->order_partition) key_dead_lettered(record);
    dead_letter(record, stage_name::kForward, Reason::RetriesExhausted,
                sink + ": " + error + " after " + std::to_string(record->retry_count) + " retries");
    return;
  }
  record->retry_tier = static_cast<int>(*tier);
  record->attempts = 0;
  start_retry(record);
  if (record->order_partition) key_to_tier(record);
}

void Engine::complete(InFlightRecord* record, Reason reason) {
  SLUICE_ASSERT(!record->awaiting_delivery, "record completed while a delivery is outstanding");
  probe_.count_outcome(*record, reason, now_.epoch_ms);
  if (record->order_partition && reason_info(reason).outcome != Outcome::Retry) key_finished(record);
  PartitionState& partition = *record->partition;
  if (!partition.revoked) {
    bool tracked = partition.offsets.complete(record->offset);
    SLUICE_ASSERT(tracked, "completed offset was not tracked");
  }
  partition.last_progress = now_.steady;
  output_order_.release(*record, turns_);
  partition.in_flight -= 1;
  in_flight_bytes_ -= record->bytes;
  pool_.release(record);
}

// A record of a revoked partition (or one cut off by a stop) is dropped without an outcome:
// its offset was not committed, so the partition's next owner processes it.
void Engine::abandon(InFlightRecord* record) {
  SLUICE_ASSERT(!record->awaiting_delivery, "record abandoned while a delivery is outstanding");
  give_up_reservation(record);
  output_order_.release(*record, turns_);
  record->partition->in_flight -= 1;
  in_flight_bytes_ -= record->bytes;
  pool_.release(record);
}

void Engine::give_up_reservation(InFlightRecord* record) {
  std::vector<InFlightRecord*> abandoned;
  dedup_->give_up(*record, abandoned);
  for (InFlightRecord* waiter : abandoned) abandon(waiter);
}

void Engine::run_turns() {
  // Re-driving a record releases its turn, which may make the next one ready: taken in rounds.
  // The two lists trade places, so neither is allocated again once grown.
  while (!turns_.empty()) {
    SLUICE_ASSERT(turns_taken_.empty(), "run_turns is not re-entered");
    turns_taken_.swap(turns_);
    for (InFlightRecord* record : turns_taken_) redrive(record);
    turns_taken_.clear();
  }
}

void Engine::redrive(InFlightRecord* record) {
  if (record->partition->revoked) {
    abandon(record);
    return;
  }
  switch (record->step()) {
    case Step::Queued: forward(record); break;
    case Step::Retrying: start_retry(record); break;
    case Step::DeadLettering: start_dead_letter(record); break;
    case Step::Rejecting: start_reject(record); break;
    case Step::Staging:
    case Step::Held:
    case Step::Dedup:
    case Step::WaitingOnPeer:
    case Step::Forwarding: SLUICE_ASSERT(false, "only a record about to produce is re-driven"); break;
  }
}

void Engine::update_backpressure() {
  switch (backpressure_.update(pool_.live(), in_flight_bytes_, clock_.now())) {
    case Backpressure::Change::None:
    case Backpressure::Change::StopTaking:
      break;
    case Backpressure::Change::ResumeTaking:
      consumer_may_have_more_ = true;
      break;
    case Backpressure::Change::PauseAll:
      partitions_->set_pause_all(kPauseBackpressure, true);
      consumer_may_have_more_ = true;
      break;
    case Backpressure::Change::ResumeAll:
      consumer_may_have_more_ = true;
      partitions_->set_pause_all(kPauseBackpressure, false);
      break;
  }
}

}  // namespace sluice::engine
