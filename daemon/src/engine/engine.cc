#include "engine/engine.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "common/assert.h"
#include "common/log.h"
#include "common/text.h"
#include "engine/at_least_once_committer.h"
#include "engine/transactional_committer.h"
#include "kafka/client.h"

namespace sluice::engine {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kExpireInterval{60'000};
constexpr milliseconds kMaxIdleWait{200};
// Periodic work that need not run per record: lag, stall detection, reload checks.
constexpr milliseconds kTickInterval{1000};
// How often the loop's gauges (in-flight records and bytes, paused partitions) are set.
constexpr milliseconds kGaugeInterval{10};
// How often the records by step, the time per step and the budget's stops are published: the
// engine counts them in plain integers (StepLedger), and this keeps the metric updates off
// the per-record path.
constexpr milliseconds kStepInterval{100};
// How long backpressure only stops taking records before it pauses the partitions; well
// inside librdkafka's max.poll.interval.ms (5 minutes by default).
constexpr milliseconds kBackpressurePauseAfter{10'000};
// How often a paused partition's high watermark is asked for (lag while paused).
constexpr milliseconds kWatermarkInterval{2'000};
// The steps of a stop after the drain, each bounded: outputs still unacknowledged get this
// long (when there are unfinished records; more when there are none, which is quick), the
// final commit and leaving the group this long each. Together well inside the margin the
// daemon allows after shutdown.drain_timeout.
constexpr milliseconds kStopFlushUnfinished{1'000};
constexpr milliseconds kStopFlush{5'000};
constexpr milliseconds kStopCommit{3'000};
constexpr milliseconds kStopClose{3'000};

}  // namespace

Engine::Engine(Parts parts)
    : config_(std::move(parts.config)),
      metrics_(*parts.metrics),
      clock_(parts.clock != nullptr ? *parts.clock : system_clock_),
      router_(config_->routes),
      tiers_(config_->retry),
      lifecycle_(parts.lifecycle != nullptr ? parts.lifecycle : &no_listener_),
      watch_paused_watermarks_(parts.watch_paused_watermarks),
      stage_runner_(std::make_unique<StageRunner>(std::move(parts.stage_chain), router_, *parts.metrics)),
      dedup_store_(std::move(parts.dedup)),
      probe_(*parts.metrics, *config_),
      connectivity_(config_->admin.ready_broker_timeout),
      backpressure_(config_->pipeline.max_in_flight_records, config_->pipeline.max_in_flight_bytes,
                    kBackpressurePauseAfter),
      output_order_(config_->kafka.delivery == config::DeliveryMode::ExactlyOnce),
      producer_(std::move(parts.producer)),
      consumer_(std::move(parts.consumer)) {}

std::unique_ptr<Engine> Engine::create(Parts parts, std::vector<std::string>& errors) {
  SLUICE_ASSERT(parts.config && parts.stage_chain && parts.dedup && parts.metrics && parts.consumer && parts.producer,
                "engine needs all its parts");
  std::unique_ptr<Engine> engine(new Engine(std::move(parts)));
  if (!engine->start(errors)) return nullptr;
  return engine;
}

bool Engine::start(std::vector<std::string>& errors) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    errors.push_back(std::string("wake pipe: ") + std::strerror(errno));
    return false;
  }
  wake_read_fd_ = fds[0];
  wake_write_fd_ = fds[1];
  // A store that writes on its own thread wakes the loop when offsets waiting for it may go.
  dedup_store_->set_wake([this] { wake(); });

  producer_->set_handlers(
      [this](void* opaque, rd_kafka_resp_err_t error) {
        if (in_round_poll_) {
          // Handled by settle_deliveries() once the poll returns; the record starts loading now.
          __builtin_prefetch(opaque);
          deliveries_.push_back({static_cast<InFlightRecord*>(opaque), error});
          return;
        }
        // A flush or a transaction call may wait, so each of their reports reads the clocks.
        refresh_now();
        on_delivery(opaque, error);
      },
      [this](rd_kafka_resp_err_t error, const std::string& reason, bool fatal) {
        client_error("producer", error, reason, fatal);
      });
  producer_->enable_wake(wake_write_fd_);
  dead_letter_settings_ = {config_->dlq.topic, producer_->max_message_bytes(), config_->dlq.format};

  if (config_->retry.ordering == config::RetryOrdering::Key) {
    parked_ = std::make_unique<ParkedKeys>(static_cast<size_t>(config_->retry.max_parked_keys),
                                           config_->retry.after_dead_letter == config::ParkedAfterDeadLetter::DeadLetter);
  }
  partitions_ = std::make_unique<PartitionTable>(
      *consumer_, [this](const std::string& topic, int32_t partition) { return new_partition_state(topic, partition); });
  const bool exactly_once = config_->kafka.delivery == config::DeliveryMode::ExactlyOnce;
  dedup_ = std::make_unique<DedupCoordinator>(
      *dedup_store_, config_->pipeline.dedup.on_unavailable == config::DedupUnavailable::ForwardUnchecked, exactly_once,
      metrics_);
  destinations_ = Destinations::create(*config_, *producer_, *this, metrics_, [this] { wake(); }, errors);
  if (!destinations_) return false;
  std::vector<std::string> route_sinks;
  for (size_t route = 0; route < config_->routes.size(); ++route) {
    route_sinks.push_back(destinations_->for_route(static_cast<int>(route)).name());
  }
  probe_.add_routes(route_sinks);
  if (exactly_once) {
    committer_ = std::make_unique<TransactionalCommitter>(*producer_, *consumer_, *dedup_, *partitions_, metrics_, clock_,
                                                          [this] { return between_flushes(); });
  } else {
    committer_ =
        std::make_unique<AtLeastOnceCommitter>(*consumer_, *dedup_store_, *dedup_, *partitions_, metrics_, clock_);
  }
  if (!committer_->start(errors)) return false;

  consumer_->set_listener(this);
  consumer_->enable_wake(wake_write_fd_);
  // The retry tiers are consumed like the inbound topics.
  std::vector<std::string> topics = config_->inbound.topics;
  topics.insert(topics.end(), tiers_.topics().begin(), tiers_.topics().end());
  if (rd_kafka_resp_err_t error = consumer_->subscribe(topics); error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    errors.push_back("subscribe: " + kafka::error_name(error));
    return false;
  }
  if (config_->pipeline.stage_thread) {
    StageRunner& runner = *stage_runner_;
    stage_thread_ = std::make_unique<StageThread>(
        [&runner](InFlightRecord& record) { runner.run(record); },
        [&runner](std::shared_ptr<const stages::StageResources> resources) { runner.set_resources(std::move(resources)); },
        wake_write_fd_);
  }
  if (watch_paused_watermarks_) watermark_poller_ = std::make_unique<WatermarkPoller>(*consumer_, kWatermarkInterval);
  const auto now = clock_.now();
  next_commit_ = now + config_->kafka.commit_interval;
  next_expire_ = now + kExpireInterval;
  next_tick_ = now + kTickInterval;
  lifecycle_->on_started();
  return true;
}

Engine::~Engine() {
  watermark_poller_.reset();
  stage_thread_.reset();  // it writes to the wake pipe, and holds records
  // Outputs still queued would keep librdkafka's threads (and their records) busy; their
  // reports are never served after this.
  if (producer_ && !finished_) producer_->purge();
  destinations_.reset();  // HTTP requests cancelled, the HTTP thread stopped
  // librdkafka's consumer waits, when destroyed, for every message it handed out.
  pool_.drop_messages();
  committer_.reset();
  dedup_.reset();
  partitions_.reset();
  consumer_.reset();
  producer_.reset();
  dedup_store_.reset();
  if (wake_read_fd_ >= 0) close(wake_read_fd_);
  if (wake_write_fd_ >= 0) close(wake_write_fd_);
}

void Engine::wake() {
  char byte = 'w';
  (void)!write(wake_write_fd_, &byte, 1);
}

void Engine::request_stop() {
  stop_requested_.store(true);
  char byte = 's';
  (void)!write(wake_write_fd_, &byte, 1);
}

void Engine::refresh_now() {
  now_.steady = clock_.now();
  now_.epoch_ms = clock_.epoch_ms();
}

// ---- the loop -------------------------------------------------------------------------

int Engine::run() {
  log::info("engine started", {{"group", config_->kafka.group_id},
                               {"inbound_topics", static_cast<int64_t>(config_->inbound.topics.size())},
                               {"routes", static_cast<int64_t>(config_->routes.size())}});
  while (should_continue()) {
    wait_for_events(time_to_next_deadline());
    iterate();
  }
  return finish();
}

bool Engine::step() {
  if (!should_continue()) return false;
  // As if woken: run() polls the consumer after every wake, and a fake consumer has no pipe.
  consumer_may_have_more_ = true;
  iterate();
  return true;
}

bool Engine::should_continue() {
  // A fatal client error (e.g. a fenced transactional producer) leaves nothing to drain
  // into: stop at once; what is unfinished is redelivered to the next instance.
  if (fatal_error_.load()) return false;
  if (stop_requested_.load() && !stopping_) begin_stopping();
  return !(stopping_ && (pool_.live() == 0 || clock_.now() >= drain_deadline_));
}

std::chrono::milliseconds Engine::time_to_next_deadline() const {
  if (consumer_may_have_more_ && !stopping_ && (!backpressure_.stopped() || backpressure_.paused())) {
    return milliseconds(0);
  }
  if (dedup_->has_queued() || !turns_.empty()) return milliseconds(0);
  if (stage_thread_ != nullptr && stage_thread_->has_finished()) return milliseconds(0);
  auto now = clock_.now();
  auto next = std::min(next_commit_, now + kMaxIdleWait);
  if (auto due = timers_.next_due()) next = std::min(next, *due);
  if (stopping_) next = std::min(next, drain_deadline_);
  if (next <= now) return milliseconds(0);
  return std::chrono::duration_cast<milliseconds>(next - now) + milliseconds(1);
}

void Engine::wait_for_events(std::chrono::milliseconds timeout) {
  pollfd descriptor{wake_read_fd_, POLLIN, 0};
  int ready = ::poll(&descriptor, 1, static_cast<int>(timeout.count()));
  if (ready > 0) {
    char buffer[256];
    while (read(wake_read_fd_, buffer, sizeof buffer) > 0) {
    }
    consumer_may_have_more_ = true;  // the wake may have come from the consumer queue
  }
}

void Engine::iterate() {
  lifecycle_->on_loop();
  refresh_now();
  in_round_poll_ = true;
  producer_->poll(milliseconds(0));
  in_round_poll_ = false;
  settle_deliveries();
  drain_http_responses();
  fire_due_timers();
  consume_available();
  submit_to_stages();
  collect_staged();
  run_dedup();
  run_turns();
  // Every request this round made goes to the HTTP thread in one hand-over per sink.
  destinations_->flush_requests();
  update_backpressure();
  committer_->poll();
  if (partitions_->take_resumed()) consumer_may_have_more_ = true;
  auto now = clock_.now();
  if (now >= next_commit_) {
    run_commit(false);
    next_commit_ = now + config_->kafka.commit_interval;
  }
  if (now >= next_expire_) {
    dedup_store_->expire();
    next_expire_ = now + kExpireInterval;
  }
  if (now >= next_tick_) {
    next_tick_ = now + kTickInterval;
    observe_periodically();
    if (auto reloaded = lifecycle_->on_tick()) {
      if (stage_thread_ != nullptr) {
        stage_thread_->set_resources(std::move(reloaded));
      } else {
        stage_runner_->set_resources(std::move(reloaded));
      }
    }
  }
  // Gauges are read every few seconds: setting them every round (a walk over the partitions
  // and a handful of atomic stores) cost more than it told when rounds are short.
  if (now >= next_gauges_) {
    next_gauges_ = now + kGaugeInterval;
    probe_.update_loop_gauges(pool_.live(), in_flight_bytes_, partitions_->paused_count(),
                              static_cast<int64_t>(partitions_->size()));
    destinations_->update_gauges();
    if (parked_) probe_.set_parked(parked_->keys(), parked_->records());
  }
  if (now >= next_steps_) {
    next_steps_ = now + kStepInterval;
    publish_steps();
  }
}

void Engine::publish_steps() { probe_.publish_steps(steps_, backpressure_.stopped_time(clock_.now())); }

// A transaction round waiting for its outputs: deliveries are handled meanwhile (they may
// add outputs), a fatal error ends the wait, and a stop request is noticed — the round may
// wait no longer than the drain.
bool Engine::between_flushes() {
  dedup_->flush_updates();
  run_turns();
  if (fatal_error_.load()) return false;
  if (stop_requested_.load() && !stopping_) begin_stopping();
  return !stopping_ || clock_.now() < drain_deadline_;
}

void Engine::run_commit(bool final) {
  const auto deadline = clock_.now() + (final ? kStopCommit : milliseconds(30'000));
  act_on_commit(committer_->commit(final, deadline));
}

void Engine::act_on_commit(Committer::Result result) {
  switch (result) {
    case Committer::Result::Rewind:
      if (!finished_) rewind();
      break;
    case Committer::Result::Fatal:
      fatal_error_.store(true);
      break;
    case Committer::Result::Committed:
    case Committer::Result::Nothing:
    case Committer::Result::Failed:
      break;
  }
}

void Engine::fire_due_timers() {
  const auto now = clock_.now();
  TimerQueue::Timer timer;
  while (timers_.pop_due(now, timer)) {
    if (timer.kind == TimerQueue::Kind::Destination) {
      destinations_->at(timer.destination).wake(now);
      continue;
    }
    if (timer.kind == TimerQueue::Kind::Partition) {
      release_held(timer.partition);
      continue;
    }
    InFlightRecord* record = timer.record;
    const bool revoked = record->partition->revoked;
    if (record->step() == Step::Dedup) {
      dedup_->recheck_due(*record, !revoked);
      if (revoked) abandon(record);
      continue;
    }
    redrive(record);  // the step it was waiting to try again
  }
  // Consumption paused for the dedup store resumes when a record asking it again gets an
  // answer. When every record that would have asked was given up instead (its partition
  // revoked in a rebalance), none is left to ask: resume, and let the next records ask
  // (they pause it again if the store is still down).
  if (dedup_->nobody_left_to_ask()) partitions_->set_pause_all(kPauseDedupDown, false);
}

void Engine::observe_periodically() {
  if (parked_) retry_scan_setup();
  destinations_->report_http_stats();
  int64_t stalled = probe_.observe(*partitions_, *consumer_, watermark_poller_.get(), clock_.now(), clock_.epoch_ms());
  if (stalled != stalled_partitions_) {
    stalled_partitions_ = stalled;
    lifecycle_->on_stalled(stalled);
  }
  ping_brokers();
  report_connectivity();
  publish_status();
}

// ---- stopping -------------------------------------------------------------------------

void Engine::begin_stopping() {
  stopping_ = true;
  lifecycle_->on_stopping();
  drain_deadline_ = clock_.now() + config_->shutdown.drain_timeout;
  partitions_->set_pause_all(kPauseStopping, true);
  log::info("draining", {{"in_flight_records", pool_.live()},
                         {"drain_timeout", text::format_duration(config_->shutdown.drain_timeout)}});
}

int Engine::finish() {
  if (!finished_) stop_in_bounded_steps();
  return fatal_error_.load() ? 1 : 0;
}

void Engine::stop_in_bounded_steps() {
  const bool fatal = fatal_error_.load();
  const int64_t unfinished = pool_.live();
  if (unfinished > 0 && !fatal) {
    log::warn("drain timeout reached; unfinished records will be redelivered", {{"records", unfinished}});
  }
  watermark_poller_.reset();
  stage_thread_.reset();  // lets it finish the records at hand; those still queued stay unfinished
  // Outputs already handed to the producer still count: give them a moment to be
  // acknowledged so their offsets can be committed (not when the producer is unusable).
  if (!fatal) producer_->flush(unfinished > 0 ? kStopFlushUnfinished : kStopFlush);
  // Whatever is still unacknowledged is given up: its reports come now, with a purge error.
  const int unacknowledged = producer_->outstanding();
  if (unacknowledged > 0) {
    producer_->purge();
    producer_->poll(milliseconds(0));
  }
  // HTTP requests still unanswered are cancelled; their records stay uncommitted.
  destinations_->shutdown_http();
  drain_http_responses();
  dedup_->flush_updates();
  finished_ = true;  // from here on a revocation only drops partitions
  if (!fatal) run_commit(true);
  rd_kafka_resp_err_t error = consumer_->close(kStopClose);
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) log::warn("consumer close failed", {{"error", kafka::error_name(error)}});
  destinations_->report_http_stats();
  publish_steps();
  log::info("stopped", {{"unfinished_records", pool_.live()}, {"unacknowledged_produces", unacknowledged}});
  // Every counter that moved, in one line: what this run did, for whoever reads the logs.
  std::vector<std::pair<std::string, double>> counters = metrics_.nonzero_counters();
  std::vector<log::Field> fields;
  fields.reserve(counters.size());
  for (const auto& [name, value] : counters) fields.emplace_back(name, value);
  log::write(log::Level::Info, "final counters", fields);
  // The consumer cannot be destroyed while a message it handed out lives.
  pool_.drop_messages();
}

}  // namespace sluice::engine
