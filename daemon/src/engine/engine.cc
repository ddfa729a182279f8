#include "engine/engine.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "common/assert.h"
#include "common/log.h"
#include "common/text.h"
#include "engine/dead_letter_envelope.h"
#include "engine/kafka_topic_sink.h"
#include "engine/record_headers.h"

namespace sluice::engine {
namespace {

using std::chrono::milliseconds;

// How long a revoked partition's in-flight deliveries may hold up a rebalance before the
// records are given up (they are redelivered to the new owner). Well below
// max.poll.interval.ms, so the group never evicts us for it.
constexpr milliseconds kRevokeDrainLimit{10'000};
// A record the sink's local queue cannot take yet is offered again after this.
constexpr milliseconds kQueueFullRetry{20};
// How long to wait before asking the dedup store again about a fingerprint another instance
// holds a reservation for.
constexpr milliseconds kBusyRecheck{500};
// When a DLQ envelope would be larger than the producer allows, embed at most this many bytes
// of the original (in base64), and nothing at all if even that is refused.
constexpr size_t kTruncatedEmbedBytes = 64 * 1024;
// Repeated identical client errors are logged at most once per this period.
constexpr milliseconds kErrorLogInterval{10'000};
constexpr milliseconds kExpireInterval{60'000};
constexpr milliseconds kMaxIdleWait{200};
// Periodic work that need not run per record: lag, stall detection, reload checks.
constexpr milliseconds kTickInterval{1000};
// Rounds of at most this many records run their CPU stages on the engine thread when the
// stage thread is idle (about 3 µs each, against two thread wake-ups).
constexpr size_t kStagesHereUpTo = 32;
// How long backpressure only stops taking records before it pauses the partitions; well
// inside librdkafka's max.poll.interval.ms (5 minutes by default).
constexpr milliseconds kBackpressurePauseAfter{10'000};
// Upper bound for one transactional call (librdkafka retries inside it as needed).
constexpr milliseconds kTransactionCallTimeout{30'000};

kafka::Properties consumer_properties(const config::Config& config) {
  kafka::Properties properties = {
      // Defaults the user may override.
      {"auto.offset.reset", "earliest"},  // a new group starts at the oldest record: nothing skipped
      {"socket.nagle.disable", "true"},   // librdkafka 2.0.2 still defaults to Nagle on
      // Prefetch at most 16 MiB (librdkafka's default is 64 MiB): with max_in_flight_bytes it
      // is what bounds the daemon's memory while downstream is slow or down.
      {"queued.max.messages.kbytes", "16384"},
  };
  for (const auto& [name, value] : config.kafka.properties) properties[name] = value;
  for (const auto& [name, value] : config.kafka.consumer_properties) properties[name] = value;
  // What the engine's correctness depends on; not overridable.
  properties["bootstrap.servers"] = config.kafka.brokers;
  properties["group.id"] = config.kafka.group_id;
  properties["client.id"] = config.kafka.client_id;
  properties["enable.auto.commit"] = "false";        // the engine commits the completed prefix itself
  properties["enable.auto.offset.store"] = "false";  // ... and never lets librdkafka store positions
  properties["enable.partition.eof"] = "false";
  if (config.kafka.delivery == config::DeliveryMode::ExactlyOnce) {
    // Records of transactions that were aborted (including our own) are never seen.
    properties["isolation.level"] = "read_committed";
  }
  return properties;
}

kafka::Properties producer_properties(const config::Config& config) {
  kafka::Properties properties = {
      {"socket.nagle.disable", "true"},
      {"linger.ms", "5"},
  };
  for (const auto& [name, value] : config.kafka.properties) properties[name] = value;
  for (const auto& [name, value] : config.kafka.producer_properties) properties[name] = value;
  properties["bootstrap.servers"] = config.kafka.brokers;
  properties["client.id"] = config.kafka.client_id;
  properties["enable.idempotence"] = "true";  // no duplicates or reordering from producer retries
  properties["acks"] = "all";
  if (config.kafka.delivery == config::DeliveryMode::ExactlyOnce) {
    properties["transactional.id"] = config.kafka.transactional_id;
  }
  return properties;
}

std::string source_of(const InFlightRecord& record) {
  std::string source;
  append_source(source, record);
  return source;
}

}  // namespace

Engine::Engine(Parts parts)
    : config_(std::move(parts.config)),
      metrics_(*parts.metrics),
      router_(config_->routes),
      stage_runner_(std::make_unique<StageRunner>(std::move(parts.stage_chain), router_, *parts.metrics)),
      dedup_(std::move(parts.dedup)),
      lifecycle_(parts.lifecycle != nullptr ? parts.lifecycle : &no_listener_) {}

std::unique_ptr<Engine> Engine::create(Parts parts, std::vector<std::string>& errors) {
  SLUICE_ASSERT(parts.config && parts.stage_chain && parts.dedup && parts.metrics, "engine needs all its parts");
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
  dedup_->set_wake([fd = wake_write_fd_] {
    char byte = 'd';
    (void)!write(fd, &byte, 1);
  });

  producer_ = kafka::Producer::create(
      producer_properties(*config_),
      [this](void* opaque, rd_kafka_resp_err_t error, const rd_kafka_message_t&) {
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
        on_client_error("producer", error, reason, fatal);
      },
      errors);
  if (!producer_) return false;
  transactional_ = config_->kafka.delivery == config::DeliveryMode::ExactlyOnce;
  if (transactional_) {
    // Once per process: fences any older producer with the same transactional.id.
    kafka::ErrorPtr error = producer_->init_transactions(kTransactionCallTimeout);
    log_transaction_call("init_transactions", error.get());
    if (error) {
      errors.push_back(std::string("init_transactions: ") + rd_kafka_error_string(error.get()));
      return false;
    }
  }
  char value[64];
  size_t value_size = sizeof value;
  if (rd_kafka_conf_get(rd_kafka_conf(producer_->handle()), "message.max.bytes", value, &value_size) ==
      RD_KAFKA_CONF_OK) {
    producer_max_message_bytes_ = text::parse_int(value).value_or(producer_max_message_bytes_);
  }

  consumer_context_.owner = this;
  consumer_context_.on_error = [this](rd_kafka_resp_err_t error, const std::string& reason, bool fatal) {
    on_client_error("consumer", error, reason, fatal);
  };
  kafka::ConfPtr conf = kafka::make_conf(consumer_properties(*config_), errors);
  if (!errors.empty()) return false;
  rd_kafka_conf_set_rebalance_cb(conf.get(), &Engine::on_rebalance);
  rd_kafka_conf_set_offset_commit_cb(conf.get(), &Engine::on_offset_commit);
  std::string error;
  consumer_ = kafka::make_client(RD_KAFKA_CONSUMER, std::move(conf), &consumer_context_, error);
  if (!consumer_) {
    errors.push_back("consumer: " + error);
    return false;
  }
  // Serve the consumer's callbacks (rebalance, commits, errors) from the consumer queue.
  rd_kafka_poll_set_consumer(consumer_.get());
  if (transactional_) group_metadata_.reset(rd_kafka_consumer_group_metadata(consumer_.get()));
  consumer_queue_.reset(rd_kafka_queue_get_consumer(consumer_.get()));

  // librdkafka writes one byte into the pipe when either queue goes from empty to non-empty,
  // so the engine sleeps in poll() instead of spinning.
  static const char kWakeByte = 'k';
  rd_kafka_queue_io_event_enable(consumer_queue_.get(), wake_write_fd_, &kWakeByte, 1);
  kafka::QueuePtr producer_queue(rd_kafka_queue_get_main(producer_->handle()));
  rd_kafka_queue_io_event_enable(producer_queue.get(), wake_write_fd_, &kWakeByte, 1);

  // One sink (and breaker) per destination; routes to the same topic share it.
  const config::CircuitBreakerConfig& breaker_config = config_->circuit_breaker;
  BreakerSettings breaker_settings;
  breaker_settings.failure_threshold = static_cast<int>(breaker_config.failure_threshold);
  breaker_settings.open_timeout = breaker_config.open_timeout;
  breaker_settings.half_open_max_calls = static_cast<int>(breaker_config.half_open_max_calls);
  breaker_settings.success_threshold = static_cast<int>(breaker_config.success_threshold);
  breaker_settings.failure_rate_threshold = static_cast<double>(breaker_config.failure_rate_threshold);
  breaker_settings.sliding_window_size = static_cast<int>(breaker_config.sliding_window_size);
  breaker_settings.minimum_calls = static_cast<int>(breaker_config.minimum_calls);
  std::map<std::string, int> sink_of_destination;
  for (size_t i = 0; i < config_->routes.size(); ++i) {
    const config::RouteConfig& route = config_->routes[i];
    std::string destination = route.http ? "http " + route.http->method + " " + route.http->url : "topic " + route.topic;
    auto [it, inserted] = sink_of_destination.try_emplace(destination, static_cast<int>(sinks_.size()));
    if (inserted) {
      int index = it->second;
      SinkSlot slot;
      if (route.http) {
        if (!http_runtime_) http_runtime_ = std::make_unique<http::HttpRuntime>();
        std::string error;
        std::unique_ptr<HttpSink> sink = HttpSink::create(
            *http_runtime_, route, [this, index](http::Response response) { push_http_response(index, std::move(response)); },
            error);
        if (!sink) {
          errors.push_back("routes[" + std::to_string(i) + "].http: " + error);
          continue;
        }
        slot.http = sink.get();
        slot.sink = std::move(sink);
      } else {
        slot.sink = std::make_unique<KafkaTopicSink>(*producer_, route.topic);
      }
      slot.breaker = std::make_unique<CircuitBreaker>(
          breaker_settings, [this, index](BreakerState from, BreakerState to) { on_breaker_transition(index, from, to); });
      slot.state_gauge = &metrics_.gauge(metrics::MetricId::BreakerState, {{"sink", slot.sink->name()}});
      slot.waiting_gauge = &metrics_.gauge(metrics::MetricId::BreakerWaitingRecords, {{"sink", slot.sink->name()}});
      slot.request_histogram = &metrics_.histogram(metrics::MetricId::SinkRequestDuration, {{"sink", slot.sink->name()}});
      sinks_.push_back(std::move(slot));
    }
    route_sink_.push_back(it->second);
    std::map<rd_kafka_resp_err_t, ErrorClass> overrides;
    std::map<std::string, ErrorClass> http_overrides;
    for (const auto& [name, error_class] : route.errors) {
      if (route.http) {
        http_overrides[name] = error_class == "bad_data" ? ErrorClass::BadData : ErrorClass::Transient;
        continue;
      }
      std::optional<rd_kafka_resp_err_t> code = kafka::error_by_name(name);
      if (!code) {
        errors.push_back("routes[" + std::to_string(i) + "].errors." + name + ": not a librdkafka error name");
        continue;
      }
      overrides[*code] = error_class == "bad_data" ? ErrorClass::BadData : ErrorClass::Transient;
    }
    route_errors_.push_back(std::move(overrides));
    route_http_errors_.push_back(std::move(http_overrides));
  }
  if (!errors.empty()) return false;

  for (size_t tier = 0; tier < config_->retry.tiers.size(); ++tier) {
    tier_topics_.push_back(config_->retry.tier_topic(tier));
    tier_of_topic_[tier_topics_.back()] = tier;
    tier_send_counters_.push_back(&metrics_.counter(metrics::MetricId::RetryTierSends, {{"tier", tier_topics_.back()}}));
  }

  // The retry tiers are consumed like the inbound topics.
  kafka::PartitionListPtr topics(rd_kafka_topic_partition_list_new(
      static_cast<int>(config_->inbound.topics.size() + tier_topics_.size())));
  for (const std::string& topic : config_->inbound.topics) {
    rd_kafka_topic_partition_list_add(topics.get(), topic.c_str(), RD_KAFKA_PARTITION_UA);
  }
  for (const std::string& topic : tier_topics_) {
    rd_kafka_topic_partition_list_add(topics.get(), topic.c_str(), RD_KAFKA_PARTITION_UA);
  }
  rd_kafka_resp_err_t subscribe_error = rd_kafka_subscribe(consumer_.get(), topics.get());
  if (subscribe_error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    errors.push_back("subscribe: " + kafka::error_name(subscribe_error));
    return false;
  }
  batch_.resize(static_cast<size_t>(config_->pipeline.batch_size));
  if (config_->pipeline.stage_thread) {
    StageRunner& runner = *stage_runner_;
    stage_thread_ = std::make_unique<StageThread>(
        [&runner](InFlightRecord& record) { runner.run(record); },
        [&runner](std::shared_ptr<const stages::StageResources> resources) { runner.set_resources(std::move(resources)); },
        wake_write_fd_);
  }
  last_progress_gauge_ = &metrics_.gauge(metrics::MetricId::LastProgressTimestamp);
  loop_gauges_ = {&metrics_.gauge(metrics::MetricId::InFlightRecords), &metrics_.gauge(metrics::MetricId::InFlightBytes),
                  &metrics_.gauge(metrics::MetricId::PausedPartitions),
                  &metrics_.gauge(metrics::MetricId::AssignedPartitions)};
  dedup_histogram_ =
      &metrics_.histogram(metrics::MetricId::DedupBatchDuration, {{"backend", std::string(dedup_->backend_name())}});
  end_to_end_histogram_ = &metrics_.histogram(metrics::MetricId::EndToEndLatency);
  const std::string backend(dedup_->backend_name());
  auto lookup_counter = [&](const char* result) {
    return &metrics_.counter(metrics::MetricId::DedupLookups, {{"backend", backend}, {"result", result}});
  };
  dedup_counters_ = {lookup_counter("hit"), lookup_counter("miss"), lookup_counter("busy"), lookup_counter("error"),
                     lookup_counter("unchecked")};
  next_commit_ = Clock::now() + config_->kafka.commit_interval;
  next_expire_ = Clock::now() + kExpireInterval;
  next_tick_ = Clock::now() + kTickInterval;
  lifecycle_->on_started();
  return true;
}

Engine::~Engine() {
  stage_thread_.reset();  // these two write to the wake pipe
  dedup_.reset();
  producer_.reset();
  consumer_queue_.reset();
  consumer_.reset();
  if (wake_read_fd_ >= 0) close(wake_read_fd_);
  if (wake_write_fd_ >= 0) close(wake_write_fd_);
}

void Engine::request_stop() {
  stop_requested_.store(true);
  char byte = 's';
  (void)!write(wake_write_fd_, &byte, 1);
}

// ---- event loop -----------------------------------------------------------------------

int Engine::run() {
  log::info("engine started", {{"group", config_->kafka.group_id},
                               {"inbound_topics", static_cast<int64_t>(config_->inbound.topics.size())},
                               {"routes", static_cast<int64_t>(config_->routes.size())}});
  while (true) {
    // A fatal client error (e.g. a fenced transactional producer) leaves nothing to drain
    // into: stop at once; what is unfinished is redelivered to the next instance.
    if (fatal_error_.load()) break;
    if (stop_requested_.load() && !stopping_) begin_stopping();
    if (stopping_ && (pool_.live() == 0 || Clock::now() >= drain_deadline_)) break;
    wait_for_events(time_to_next_deadline());
    iterate();
  }
  finish_stopping();
  return fatal_error_.load() ? 1 : 0;
}

std::chrono::milliseconds Engine::time_to_next_deadline() const {
  if (consumer_may_have_more_ && !stopping_ && (!backpressured_ || backpressure_paused_)) return milliseconds(0);
  if (!dedup_queue_.empty()) return milliseconds(0);
  if (stage_thread_ != nullptr && stage_thread_->has_finished()) return milliseconds(0);
  auto now = Clock::now();
  Clock::time_point next = std::min(next_commit_, now + kMaxIdleWait);
  if (!timers_.empty()) next = std::min(next, timers_.top().due);
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
  // Every request this round made goes to the HTTP thread in one hand-over per sink.
  flush_http_requests();
  update_backpressure();
  if (!deferred_commits_.empty()) send_durable_commits();
  auto now = Clock::now();
  if (now >= next_commit_) {
    commit(false);
    next_commit_ = now + config_->kafka.commit_interval;
  }
  if (now >= next_expire_) {
    dedup_->expire();
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
  update_gauges();
}

void Engine::begin_stopping() {
  stopping_ = true;
  lifecycle_->on_stopping();
  drain_deadline_ = Clock::now() + config_->shutdown.drain_timeout;
  set_pause_all(kPauseStopping, true);
  log::info("draining", {{"in_flight_records", pool_.live()},
                         {"drain_timeout", text::format_duration(config_->shutdown.drain_timeout)}});
}

void Engine::finish_stopping() {
  int64_t unfinished = pool_.live();
  if (unfinished > 0) {
    log::warn("drain timeout reached; unfinished records will be redelivered", {{"records", unfinished}});
  }
  // Deliveries already handed to librdkafka still count: give them a moment to be
  // acknowledged so their offsets can be committed.
  int outstanding = producer_->flush(milliseconds(unfinished > 0 ? 1000 : 5000));
  // HTTP requests still unanswered are cancelled; their records stay uncommitted.
  for (SinkSlot& slot : sinks_) {
    if (slot.http != nullptr) slot.http->shutdown();
  }
  drain_http_responses();
  flush_dedup_updates();
  commit(true);
  rd_kafka_resp_err_t error = rd_kafka_consumer_close(consumer_.get());
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    log::warn("consumer close failed", {{"error", kafka::error_name(error)}});
  }
  if (http_runtime_) http_runtime_->stop();
  report_http_stats();
  log::info("stopped", {{"unfinished_records", pool_.live()}, {"unacknowledged_produces", outstanding}});
  // Every counter that moved, in one line: what this run did, for whoever reads the logs.
  std::vector<std::pair<std::string, double>> counters = metrics_.nonzero_counters();
  std::vector<log::Field> fields;
  fields.reserve(counters.size());
  for (const auto& [name, value] : counters) fields.emplace_back(name, value);
  log::write(log::Level::Info, "final counters", fields);
}

// ---- consumption ----------------------------------------------------------------------

void Engine::consume_available() {
  const int64_t max_records = config_->pipeline.max_in_flight_records;
  const int64_t max_bytes = config_->pipeline.max_in_flight_bytes;
  while (consumer_may_have_more_) {
    // While stopping, or after a long backpressure, the consumer is still polled (for
    // rebalance callbacks) but every partition is paused, so no records arrive.
    size_t room = batch_.size();
    if (!stopping_ && !backpressure_paused_) {
      if (backpressured_) break;
      int64_t records_left = max_records - pool_.live();
      // The very first batch is one record, to learn a size before taking more.
      records_left = recent_record_bytes_ > 0
                         ? std::min(records_left, (max_bytes - in_flight_bytes_) / recent_record_bytes_ + 1)
                         : 1;
      room = static_cast<size_t>(std::clamp<int64_t>(records_left, 1, static_cast<int64_t>(batch_.size())));
    }
    ssize_t count = rd_kafka_consume_batch_queue(consumer_queue_.get(), 0, batch_.data(), room);
    if (count <= 0) {
      consumer_may_have_more_ = false;
      break;
    }
    refresh_now();
    int64_t batch_bytes = 0;
    for (ssize_t i = 0; i < count; ++i) {
      prefetch_consumed(static_cast<size_t>(i), static_cast<size_t>(count));
      batch_bytes += static_cast<int64_t>(batch_[static_cast<size_t>(i)]->len);
      handle_message(kafka::MessagePtr(batch_[static_cast<size_t>(i)]));
    }
    recent_record_bytes_ = std::max<int64_t>(1, batch_bytes / count);
    consumer_may_have_more_ = static_cast<size_t>(count) == room;
    submit_to_stages();
    collect_staged();
    run_dedup();
    update_backpressure();
  }
}

// A consumed record was written by librdkafka's thread on another core, and its headers are
// parsed from the fetched bytes on first use (handle_message looks for one): the first touch
// of each missed the cache. In Kafka's record format the headers follow the value, so the
// bytes after the value are loaded too. Four records ahead the message, two ahead (once the
// message is in) the bytes. Hints only: a wrong address costs nothing.
void Engine::prefetch_consumed(size_t i, size_t count) const {
  if (i + 4 < count) __builtin_prefetch(batch_[i + 4]);
  if (i + 2 < count) {
    const rd_kafka_message_t* message = batch_[i + 2];
    if (message->payload != nullptr) __builtin_prefetch(static_cast<const char*>(message->payload) + message->len);
  }
}

std::shared_ptr<PartitionState> Engine::find_partition(std::string_view topic, int32_t partition) {
  auto it = partitions_.find(std::make_pair(std::string(topic), partition));
  return it == partitions_.end() ? nullptr : it->second;
}

PartitionState* Engine::partition_of(const rd_kafka_message_t& message) {
  if (message.rkt != last_partition_.topic || message.partition != last_partition_.partition) {
    std::shared_ptr<PartitionState> state = find_partition(rd_kafka_topic_name(message.rkt), message.partition);
    if (!state) return nullptr;
    last_partition_ = {message.rkt, message.partition, std::move(state)};
  }
  return last_partition_.state.get();
}

void Engine::refresh_now() {
  now_.steady = Clock::now();
  now_.epoch_ms = text::now_epoch_ms();
}

void Engine::handle_message(kafka::MessagePtr message) {
  if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return;
    on_client_error("consumer", message->err, rd_kafka_message_errstr(message.get()), false);
    return;
  }
  PartitionState* partition = partition_of(*message);
  if (partition == nullptr) {
    // A record fetched just before its partition was revoked: the new owner reads it again.
    log::debug("record of an unassigned partition ignored",
               {{"topic", rd_kafka_topic_name(message->rkt)}, {"partition", message->partition}});
    return;
  }
  InFlightRecord* record = pool_.acquire();
  record->message = std::move(message);
  record->partition = last_partition_.state;
  record->offset = record->message->offset;
  record->bytes = static_cast<int64_t>(record->message->len + record->message->key_len);
  record->timestamp_ms = rd_kafka_message_timestamp(record->message.get(), nullptr);
  record->consumed_at = now_.steady;
  partition->offsets.track(record->offset, now_.epoch_ms);
  if (partition->in_flight == 0) partition->last_progress = record->consumed_at;  // idle until now
  partition->in_flight += 1;
  in_flight_bytes_ += record->bytes;

  partition->consumed_counter->Increment();
  if (last_header(*record->message, header::kReplayCount)) {
    metrics_.counter(metrics::MetricId::ReplayedRecordsConsumed, {{"topic", partition->topic}}).Increment();
  }

  if (partition->retry_tier >= 0) {
    // A record from a retry tier: how often it failed, and when it may be tried again.
    if (auto count = last_header(*record->message, header::kRetryCount)) {
      record->retry_count = static_cast<int>(std::clamp<int64_t>(text::parse_int(*count).value_or(1), 1, 1000));
    } else {
      record->retry_count = partition->retry_tier + 1;
    }
    if (auto due = last_header(*record->message, header::kRetryDue)) {
      record->retry_due_ms = text::parse_int(*due).value_or(0);
    }
    // Records behind a held one wait behind it, in offset order.
    if (!partition->held.empty() || record->retry_due_ms > now_.epoch_ms) {
      hold(record);
      return;
    }
  }
  process(record);
}

void Engine::process(InFlightRecord* record) {
  record->step = Step::Staging;
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
  switch (record->verdict) {
    case stages::Verdict::DeadLetter:
      dead_letter(record, record->stage, record->reason, std::move(record->detail));
      return;
    case stages::Verdict::Filter:
      if (config_->pipeline.filter.rejected_topic.empty()) {
        complete(record, Outcome::Filtered, record->reason);
      } else {
        start_reject(record);
      }
      return;
    case stages::Verdict::Continue:
      enqueue_dedup(record);
      return;
  }
}

// A retry-tier record that is not due yet: it waits, and so does its partition (paused), while
// every other partition keeps flowing and the consumer keeps polling.
void Engine::hold(InFlightRecord* record) {
  record->step = Step::Held;
  PartitionState& partition = *record->partition;
  partition.held.push_back(record);
  if (!partition.release_scheduled) {
    partition.release_scheduled = true;
    milliseconds delay(std::max<int64_t>(0, record->retry_due_ms - text::now_epoch_ms()));
    push_timer(Timer{Clock::now() + delay, 0, nullptr, record->partition, -1});
    set_pause(partition, kPauseRetryWait, true);
  }
}

void Engine::release_held(const std::shared_ptr<PartitionState>& partition) {
  partition->release_scheduled = false;
  if (partition->revoked) return;  // its held records were given up at the revocation
  int64_t now_ms = text::now_epoch_ms();
  while (!partition->held.empty() && partition->held.front()->retry_due_ms <= now_ms) {
    InFlightRecord* record = partition->held.front();
    partition->held.pop_front();
    process(record);
  }
  if (partition->held.empty()) {
    set_pause(*partition, kPauseRetryWait, false);
    return;
  }
  partition->release_scheduled = true;
  milliseconds delay(partition->held.front()->retry_due_ms - now_ms);
  push_timer(Timer{Clock::now() + delay, 0, nullptr, partition, -1});
}

// ---- dedup ----------------------------------------------------------------------------

void Engine::enqueue_dedup(InFlightRecord* record) {
  auto [owner, inserted] = fingerprint_owners_.try_emplace(record->fingerprint, record);
  if (!inserted && *owner != record) {
    // The same content is already in flight: its outcome decides this one's.
    record->step = Step::WaitingOnPeer;
    (*owner)->waiters.push_back(record);
    return;
  }
  record->step = Step::Dedup;
  dedup_queue_.push_back(record);
}

void Engine::flush_dedup_updates() {
  if (!releases_.empty()) {
    dedup_->release(releases_);
    releases_.clear();
  }
  if (!confirms_.empty()) {
    dedup_->confirm(confirms_);
    confirms_.clear();
  }
}

void Engine::run_dedup() {
  // Releases and confirms go first, so a fingerprint released by a failed record can be
  // reserved by its successor in the same round.
  flush_dedup_updates();
  if (dedup_queue_.empty()) return;
  // The round is taken out of dedup_queue_ because handling it may queue records again (a
  // waiter taking over a released reservation); the two vectors trade places each round, so
  // neither is allocated again.
  SLUICE_ASSERT(dedup_round_.empty(), "run_dedup is not re-entered");
  dedup_round_.swap(dedup_queue_);
  std::vector<InFlightRecord*>& queue = dedup_round_;
  reserve_keys_.clear();
  for (InFlightRecord* record : queue) reserve_keys_.push_back(record->fingerprint);
  auto reserve_started = Clock::now();
  dedup_->reserve(reserve_keys_, reserve_statuses_);
  dedup_histogram_->Observe(std::chrono::duration<double>(Clock::now() - reserve_started).count());
  SLUICE_ASSERT(reserve_statuses_.size() == queue.size(), "dedup store must answer every fingerprint");

  bool any_unavailable = false;
  for (size_t i = 0; i < queue.size(); ++i) {
    InFlightRecord* record = queue[i];
    dedup::ReserveStatus status = reserve_statuses_[i];
    if (status == dedup::ReserveStatus::Reserved) record->holds_reservation = true;
    if (record->partition->revoked) {
      abandon(record);
      continue;
    }
    switch (status) {
      case dedup::ReserveStatus::Reserved:
        dedup_counters_.miss->Increment();
        start_forward(record);
        break;
      case dedup::ReserveStatus::Duplicate:
        dedup_counters_.hit->Increment();
        fingerprint_owners_.erase(record->fingerprint);
        resolve_waiters_as_duplicates(record);
        complete(record, Outcome::Duplicate, reason::kDuplicate);
        break;
      case dedup::ReserveStatus::Busy:
        dedup_counters_.busy->Increment();
        dedup_rechecks_scheduled_ += 1;
        schedule(record, kBusyRecheck);
        break;
      case dedup::ReserveStatus::Unavailable:
        dedup_counters_.error->Increment();
        if (config_->pipeline.dedup.on_unavailable == config::DedupUnavailable::ForwardUnchecked) {
          // Chosen by the operator: availability over dedup. Counted, and logged (rarely).
          dedup_counters_.unchecked->Increment();
          auto now = Clock::now();
          auto& last = last_error_log_[RD_KAFKA_RESP_ERR__STATE];
          if (now - last >= kErrorLogInterval) {
            last = now;
            log::warn("dedup store unavailable; forwarding without the check",
                      {{"backend", dedup_->backend_name()}});
          }
          start_forward(record);
          break;
        }
        any_unavailable = true;
        record->attempts += 1;
        dedup_rechecks_scheduled_ += 1;
        schedule(record, backoff(record->attempts));
        break;
    }
  }
  if (any_unavailable != dedup_down_) set_dedup_down(any_unavailable);
  dedup_round_.clear();
}

void Engine::set_dedup_down(bool down) {
  dedup_down_ = down;
  if (dedup_down_) {
    log::warn("dedup store unavailable; pausing consumption", {{"backend", dedup_->backend_name()}});
  } else {
    log::info("dedup store available again", {{"backend", dedup_->backend_name()}});
  }
  set_pause_all(kPauseDedupDown, dedup_down_);
}

void Engine::resolve_waiters_as_duplicates(InFlightRecord* owner) {
  std::vector<InFlightRecord*> waiters;
  waiters.swap(owner->waiters);
  for (InFlightRecord* waiter : waiters) {
    if (waiter->partition->revoked) {
      abandon(waiter);
    } else {
      complete(waiter, Outcome::Duplicate, reason::kDuplicate);
    }
  }
}

void Engine::drop_ownership(const InFlightRecord* record) {
  InFlightRecord* const* owner = fingerprint_owners_.find(record->fingerprint);
  if (owner != nullptr && *owner == record) fingerprint_owners_.erase(record->fingerprint);
}

// The owner gives up its reservation without forwarding: the first waiter (if any) becomes
// the new owner and asks the store afresh.
void Engine::hand_over_reservation(InFlightRecord* owner) {
  if (owner->holds_reservation) {
    releases_.push_back(owner->fingerprint);
    owner->holds_reservation = false;
  }
  drop_ownership(owner);
  std::vector<InFlightRecord*> waiters;
  waiters.swap(owner->waiters);
  for (InFlightRecord* waiter : waiters) {
    if (waiter->partition->revoked) {
      abandon(waiter);
    } else {
      enqueue_dedup(waiter);
    }
  }
}

// ---- producing ------------------------------------------------------------------------

void Engine::mark_producing(InFlightRecord* record) {
  record->awaiting_delivery = true;
  record->partition->awaiting_delivery += 1;
}

void Engine::start_forward(InFlightRecord* record) {
  SinkSlot& slot = sinks_[static_cast<size_t>(route_sink_[static_cast<size_t>(record->route)])];
  const Clock::time_point now = now_.steady;
  CircuitBreaker::Permit permit = slot.breaker->try_acquire(now);
  if (!permit.granted) {
    wait_on_breaker(record);
    return;
  }
  record->permit = permit;
  record->step = Step::Forwarding;
  record->sent_at = now;
  if (slot.http == nullptr) ensure_transaction();
  SendResult result = slot.sink->send(*record);
  switch (result.status) {
    case SendStatus::Accepted:
      mark_producing(record);
      break;
    case SendStatus::QueueFull:
      slot.breaker->cancel(permit);
      schedule(record, kQueueFullRetry);
      break;
    case SendStatus::Rejected:
      on_forward_failed(record, ErrorClass::BadData, result.error);
      break;
  }
}

// The sink's breaker is not closed: the record waits for it, and its partition is paused so
// no more records pile up behind it. No retry or DLQ record is written for an outage.
void Engine::wait_on_breaker(InFlightRecord* record) {
  int sink = route_sink_[static_cast<size_t>(record->route)];
  SinkSlot& slot = sinks_[static_cast<size_t>(sink)];
  record->step = Step::WaitingOnBreaker;
  record->permit = {};
  slot.waiting.push_back(record);
  slot.waiting_gauge->Set(static_cast<double>(slot.waiting.size()));
  PartitionState& partition = *record->partition;
  if (++partition.waiting_on_breaker == 1) set_pause(partition, kPauseOutage, true);
  if (slot.breaker->current_state() == BreakerState::Open && !slot.wake_scheduled) {
    slot.wake_scheduled = true;
    push_timer(Timer{slot.breaker->open_until(), 0, nullptr, nullptr, sink});
  }
}

// Lets waiting records through as far as the breaker allows: all of them when closed, up to
// the free probe slots when half-open, none when open (then wakes up when it may half-open).
void Engine::pump_breaker(int sink) {
  SinkSlot& slot = sinks_[static_cast<size_t>(sink)];
  // Called after every delivery; nearly always nobody waits (the gauge is kept current
  // wherever the queue changes).
  if (slot.waiting.empty()) return;
  auto now = Clock::now();
  BreakerState state = slot.breaker->state(now);
  while (!slot.waiting.empty()) {
    if (state == BreakerState::Open) break;
    if (state == BreakerState::HalfOpen && slot.breaker->probe_slots() == 0) break;
    InFlightRecord* record = slot.waiting.front();
    slot.waiting.pop_front();
    PartitionState& partition = *record->partition;
    if (--partition.waiting_on_breaker == 0 && !partition.revoked) set_pause(partition, kPauseOutage, false);
    if (partition.revoked) {
      abandon(record);
    } else {
      start_forward(record);
    }
    state = slot.breaker->state(now);
  }
  slot.waiting_gauge->Set(static_cast<double>(slot.waiting.size()));
  if (state == BreakerState::Open && !slot.waiting.empty() && !slot.wake_scheduled) {
    slot.wake_scheduled = true;
    push_timer(Timer{slot.breaker->open_until(), 0, nullptr, nullptr, sink});
  }
}

void Engine::on_breaker_transition(int sink, BreakerState from, BreakerState to) {
  SinkSlot& slot = sinks_[static_cast<size_t>(sink)];
  const std::string& name = slot.sink->name();
  metrics_.counter(metrics::MetricId::BreakerTransitions, {{"sink", name}, {"to", std::string(breaker_state_name(to))}})
      .Increment();
  slot.state_gauge->Set(to == BreakerState::Closed ? 0 : to == BreakerState::Open ? 1 : 2);
  log::Level level = to == BreakerState::Open ? log::Level::Warn : log::Level::Info;
  log::write(level, "circuit breaker state changed",
             {{"sink", name}, {"from", breaker_state_name(from)}, {"to", breaker_state_name(to)},
              {"waiting_records", static_cast<int64_t>(slot.waiting.size())}});
}

ErrorClass Engine::classify_http_for_route(int route, int status) const {
  const auto& overrides = route_http_errors_[static_cast<size_t>(route)];
  if (auto exact = overrides.find(std::to_string(status)); exact != overrides.end()) return exact->second;
  if (auto range = overrides.find(std::to_string(status / 100) + "xx"); range != overrides.end()) return range->second;
  return classify_http_status(status);
}

void Engine::push_http_response(int sink, http::Response response) {
  {
    std::lock_guard<std::mutex> lock(http_responses_mutex_);
    http_responses_.emplace_back(sink, std::move(response));
  }
  char byte = 'h';
  (void)!write(wake_write_fd_, &byte, 1);
}

void Engine::drain_http_responses() {
  SLUICE_ASSERT(http_responses_taken_.empty(), "drain_http_responses is not re-entered");
  {
    // The two lists trade places, so neither is allocated again once grown.
    std::lock_guard<std::mutex> lock(http_responses_mutex_);
    http_responses_taken_.swap(http_responses_);
  }
  if (!http_responses_taken_.empty()) refresh_now();
  for (const auto& [sink, response] : http_responses_taken_) on_http_response(sink, response);
  http_responses_taken_.clear();
  // A response frees its partition's ordering gate for the next record: send those now, as
  // callers (the revocation drain) wait for them.
  flush_http_requests();
}

void Engine::flush_http_requests() {
  for (SinkSlot& slot : sinks_) {
    if (slot.http != nullptr) slot.http->flush();
  }
}

void Engine::on_http_response(int sink, const http::Response& response) {
  SinkSlot& slot = sinks_[static_cast<size_t>(sink)];
  InFlightRecord* record = slot.http->on_response(response);
  if (record == nullptr) return;
  record->awaiting_delivery = false;
  record->partition->awaiting_delivery -= 1;
  slot.request_histogram->Observe(std::chrono::duration<double>(Clock::now() - record->sent_at).count());
  if (response.outcome == http::Response::Outcome::Cancelled) {
    // Only at shutdown: the record is left unfinished, and redelivered after the restart.
    slot.breaker->cancel(record->permit);
    abandon(record);
    return;
  }
  if (response.outcome == http::Response::Outcome::Status && response.status >= 200 && response.status < 300) {
    slot.breaker->on_success(record->permit, Clock::now());
    on_forward_delivered(record);
    pump_breaker(sink);
    return;
  }
  ErrorClass error_class = ErrorClass::Transient;
  std::string error;
  if (response.outcome == http::Response::Outcome::Status) {
    error_class = classify_http_for_route(record->route, response.status);
    error = "HTTP " + std::to_string(response.status);
    record->http_status = response.status;
    record->response_excerpt = response.body_excerpt;
    if (response.retry_after) {
      record->retry_after = http::parse_retry_after(*response.retry_after, std::chrono::system_clock::now());
    }
  } else {
    error = std::string(http::outcome_name(response.outcome));
  }
  on_forward_failed(record, error_class, error);
}

ErrorClass Engine::classify_for_route(int route, rd_kafka_resp_err_t error) const {
  const auto& overrides = route_errors_[static_cast<size_t>(route)];
  auto it = overrides.find(error);
  return it != overrides.end() ? it->second : classify_produce_error(error);
}

void Engine::dead_letter(InFlightRecord* record, std::string_view stage, std::string_view reason, std::string detail) {
  record->stage = stage;
  record->reason = reason;
  record->detail = std::move(detail);
  record->attempts = 0;
  log_record_event("record dead-lettered", *record);
  start_dead_letter(record);
}

// One log line per event, but at most one per second per reason when bad data floods in
// (the rest are counted in the next line). Bodies and details (which may quote message
// data) only with logging.include_payloads.
void Engine::log_record_event(std::string_view msg, const InFlightRecord& record) {
  auto now = Clock::now();
  EventLogState& state = event_log_[std::string(record.reason)];
  if (now - state.last < std::chrono::seconds(1)) {
    state.suppressed += 1;
    return;
  }
  state.last = now;
  std::vector<log::Field> fields = {{"topic", record.partition->topic},
                                    {"partition", record.partition->partition},
                                    {"offset", record.offset},
                                    {"reason", record.reason},
                                    {"stage", record.stage}};
  if (!record.correlation_id.empty()) fields.emplace_back("correlation_id", record.correlation_id);
  if (state.suppressed > 0) fields.emplace_back("similar_not_logged", state.suppressed);
  std::string payload;
  if (config_->logging.include_payloads) {
    fields.emplace_back("detail", record.detail);
    payload = record.value_is_null() ? std::string("null") : std::string(record.value().substr(0, 4096));
    fields.emplace_back("payload", payload);
  }
  state.suppressed = 0;
  log::write(log::Level::Info, msg, fields);
}

void Engine::start_dead_letter(InFlightRecord* record) {
  record->step = Step::DeadLettering;
  rd_kafka_message_t& message = *record->message;
  DeadLetterInfo info;
  info.value = record->value();
  info.value_is_null = record->value_is_null();
  info.key = message.key;
  info.key_size = message.key_len;
  // A record from a retry tier reports where it first came from.
  std::string origin_topic(last_header(message, header::kOriginalTopic).value_or(record->partition->topic));
  info.topic = origin_topic;
  info.partition = static_cast<int32_t>(
      text::parse_int(last_header(message, header::kOriginalPartition).value_or("")).value_or(record->partition->partition));
  info.offset = text::parse_int(last_header(message, header::kOriginalOffset).value_or("")).value_or(record->offset);
  info.retry_count = record->retry_count;
  info.max_retries_exceeded = record->reason == reason::kRetriesExhausted;
  info.http_status = record->http_status;
  info.response_body = record->response_excerpt;
  info.timestamp_ms = record->timestamp_ms;
  info.error = record->reason;
  info.error_stage = record->stage;
  info.error_detail = record->detail;
  info.failed_at = std::chrono::system_clock::now();
  // Room for the key, headers and record framing within the producer's message limit.
  const int64_t overhead = static_cast<int64_t>(message.key_len) + 4096;
  if (record->truncated_envelope) {
    info.embed_limit = std::min<size_t>(kTruncatedEmbedBytes, static_cast<size_t>(producer_max_message_bytes_ / 4));
    if (record->attempts > 1) info.embed_limit = 0;
  }
  std::string envelope = build_dead_letter_envelope(info);
  if (!record->truncated_envelope && static_cast<int64_t>(envelope.size()) + overhead > producer_max_message_bytes_) {
    record->truncated_envelope = true;
    metrics_.counter(metrics::MetricId::DlqEnvelopesTruncated).Increment();
    info.embed_limit = std::min<size_t>(kTruncatedEmbedBytes, static_cast<size_t>(producer_max_message_bytes_ / 4));
    envelope = build_dead_letter_envelope(info);
  }
  kafka::OutboundRecord out;
  out.topic = config_->dlq.topic;
  out.key = message.key;
  out.key_size = message.key_len;
  out.value = envelope;
  out.headers = derive_headers(message, {{header::kError, record->reason}, {header::kErrorStage, record->stage}},
                               {header::kFingerprint, header::kSource, header::kRetryDue});
  rd_kafka_resp_err_t error = produce_for(record, out, "dlq");
  if (error == RD_KAFKA_RESP_ERR_NO_ERROR) return;
  if (classify_produce_error(error) == ErrorClass::BadData && !record->truncated_envelope) {
    record->truncated_envelope = true;
    metrics_.counter(metrics::MetricId::DlqEnvelopesTruncated).Increment();
    start_dead_letter(record);
    return;
  }
  if (error != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
    log::error("dlq produce refused", {{"topic", config_->dlq.topic}, {"error", kafka::error_name(error)}});
  }
  try_again_later(record, error);
}

void Engine::start_reject(InFlightRecord* record) {
  record->step = Step::Rejecting;
  rd_kafka_message_t& message = *record->message;
  std::string source = source_of(*record);
  kafka::OutboundRecord out;
  out.topic = config_->pipeline.filter.rejected_topic;
  out.key = message.key;
  out.key_size = message.key_len;
  out.value = record->value();
  out.null_value = record->value_is_null();
  out.headers = derive_headers(message, {{header::kFilterReason, record->reason}, {header::kSource, source}});
  rd_kafka_resp_err_t error = produce_for(record, out, "rejected");
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) try_again_later(record, error);
}

rd_kafka_resp_err_t Engine::produce_for(InFlightRecord* record, kafka::OutboundRecord& out, const char* destination) {
  ensure_transaction();
  out.opaque = record;
  rd_kafka_resp_err_t error = producer_->produce(out);
  if (error == RD_KAFKA_RESP_ERR_NO_ERROR) {
    mark_producing(record);
  } else {
    count_produce_error(destination, error);
  }
  return error;
}

void Engine::count_produce_error(const char* destination, rd_kafka_resp_err_t error) {
  metrics_.counter(metrics::MetricId::ProduceErrors, {{"destination", destination}, {"error", kafka::error_name(error)}})
      .Increment();
}

// The same step is tried again: soon when the local queue was full, after a growing backoff
// otherwise. Used for sluice's own records (retry, DLQ, rejected): an environment failure
// there is waited out, never turned into another outcome.
void Engine::try_again_later(InFlightRecord* record, rd_kafka_resp_err_t error) {
  record->attempts += 1;
  schedule(record, error == RD_KAFKA_RESP_ERR__QUEUE_FULL ? kQueueFullRetry : backoff(record->attempts));
}

void Engine::settle_deliveries() {
  // A delivery is settled long after its record was last touched: at full speed tens of
  // thousands of records are in flight, so the record, its consumed message, its owner
  // entry and its offset entry are all out of the cache. They are prefetched a few
  // deliveries ahead, which overlaps those memory waits with the work in between.
  constexpr size_t kAhead = 4;
  for (size_t i = 0; i < deliveries_.size(); ++i) {
    if (i + kAhead < deliveries_.size()) {
      const InFlightRecord& next = *deliveries_[i + kAhead].record;
      __builtin_prefetch(next.message.get());
      fingerprint_owners_.prefetch(next.fingerprint);
      next.partition->offsets.prefetch(next.offset);
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
  if (!ok && record->partition->revoked) {
    // Purged by an aborted transaction or failed after its partition went away: the record
    // is read again from the committed offset.
    abandon(record);
    return;
  }
  switch (record->step) {
    case Step::Forwarding: {
      const Clock::time_point now = now_.steady;
      sinks_[static_cast<size_t>(route_sink_[static_cast<size_t>(record->route)])].request_histogram->Observe(
          std::chrono::duration<double>(now - record->sent_at).count());
      if (ok) {
        int sink = route_sink_[static_cast<size_t>(record->route)];
        sinks_[static_cast<size_t>(sink)].breaker->on_success(record->permit, now);
        on_forward_delivered(record);
        pump_breaker(sink);
      } else {
        on_forward_failed(record, classify_for_route(record->route, error), kafka::error_name(error));
      }
      return;
    }
    case Step::Retrying:
      if (ok) {
        tier_send_counters_[static_cast<size_t>(std::min<int>(record->retry_count, static_cast<int>(tier_topics_.size()) - 1))]
            ->Increment();
        complete(record, Outcome::Retry, reason::kTransient);
        return;
      }
      count_produce_error("retry", error);
      log::warn("retry tier delivery failed; retrying", {{"error", kafka::error_name(error)}, {"attempt", record->attempts}});
      try_again_later(record, error);
      return;
    case Step::DeadLettering:
      if (ok) {
        complete(record, Outcome::DeadLettered, record->reason);
        return;
      }
      count_produce_error("dlq", error);
      if (classify_produce_error(error) == ErrorClass::BadData && !record->truncated_envelope) {
        record->truncated_envelope = true;
        metrics_.counter(metrics::MetricId::DlqEnvelopesTruncated).Increment();
      }
      log::warn("dlq delivery failed; retrying", {{"topic", config_->dlq.topic},
                                                  {"error", kafka::error_name(error)},
                                                  {"attempt", record->attempts + 1}});
      try_again_later(record, error);
      return;
    case Step::Rejecting:
      if (ok) {
        complete(record, Outcome::Filtered, record->reason);
        return;
      }
      count_produce_error("rejected", error);
      try_again_later(record, error);
      return;
    case Step::Staging:
    case Step::Held:
    case Step::Dedup:
    case Step::WaitingOnPeer:
    case Step::WaitingOnBreaker:
      break;
  }
  SLUICE_ASSERT(false, "delivery report for a record in a step that does not produce");
}

void Engine::on_forward_delivered(InFlightRecord* record) {
  if (record->holds_reservation) {
    // Exactly-once: the fingerprint is final only when the transaction commits.
    (transactional_ ? transaction_confirms_ : confirms_).push_back(record->fingerprint);
    record->holds_reservation = false;
  }
  drop_ownership(record);
  resolve_waiters_as_duplicates(record);
  complete(record, Outcome::Forwarded, reason::kForwarded);
}

void Engine::on_forward_failed(InFlightRecord* record, ErrorClass error_class, const std::string& error) {
  int sink = route_sink_[static_cast<size_t>(record->route)];
  SinkSlot& slot = sinks_[static_cast<size_t>(sink)];
  auto now = Clock::now();
  metrics_.counter(metrics::MetricId::ProduceErrors, {{"destination", "route"}, {"error", error}}).Increment();
  record->last_error = error;
  if (error_class == ErrorClass::BadData) {
    // The destination answered, so it is up; it refuses this record as it is. The record goes
    // to the DLQ, and its reservation passes to any identical record waiting behind it.
    slot.breaker->on_success(record->permit, now);
    hand_over_reservation(record);
    dead_letter(record, stage_name::kForward, reason::kForwardRejected, slot.sink->name() + ": " + error);
    pump_breaker(sink);
    return;
  }
  slot.breaker->on_failure(record->permit, now, record->retry_after);
  record->permit = {};
  if (slot.breaker->state(now) != BreakerState::Closed) {
    // An outage, not this record's fault: it waits for the breaker (keeping its reservation).
    wait_on_breaker(record);
    pump_breaker(sink);
    return;
  }
  auto& last = last_error_log_[RD_KAFKA_RESP_ERR__TRANSPORT];
  if (now - last >= kErrorLogInterval) {
    last = now;
    log::warn("forward failed; sending to a retry tier",
              {{"sink", slot.sink->name()}, {"error", error}, {"retry_count", record->retry_count}});
  }
  // The record leaves this attempt: its fingerprint must not count as seen when it comes
  // back from the tier (FLAWS #8), and an identical record waiting on it may go ahead.
  hand_over_reservation(record);
  if (record->retry_count >= static_cast<int>(tier_topics_.size())) {
    dead_letter(record, stage_name::kForward, reason::kRetriesExhausted,
                slot.sink->name() + ": " + error + " after " + std::to_string(record->retry_count) + " retries");
    return;
  }
  record->attempts = 0;
  start_retry(record);
}

// Produces the record to its next retry tier: value, key and headers unchanged, plus the
// retry headers. The input offset completes once the tier acknowledged it.
void Engine::start_retry(InFlightRecord* record) {
  record->step = Step::Retrying;
  rd_kafka_message_t& message = *record->message;
  size_t tier = static_cast<size_t>(record->retry_count);
  int64_t delay_ms = config_->retry.tiers[tier].count();
  if (record->retry_after) delay_ms = std::max<int64_t>(delay_ms, record->retry_after->count());
  std::string count = std::to_string(record->retry_count + 1);
  std::string due = std::to_string(text::now_epoch_ms() + delay_ms);
  // The first origin is kept through every tier.
  std::string origin_topic(last_header(message, header::kOriginalTopic).value_or(record->partition->topic));
  std::string origin_partition(
      last_header(message, header::kOriginalPartition).value_or(std::to_string(record->partition->partition)));
  std::string origin_offset(last_header(message, header::kOriginalOffset).value_or(std::to_string(record->offset)));
  kafka::OutboundRecord out;
  out.topic = tier_topics_[tier];
  out.key = message.key;
  out.key_size = message.key_len;
  out.value = record->value();
  out.null_value = record->value_is_null();
  out.headers = derive_headers(message, {{header::kRetryCount, count},
                                         {header::kRetryDue, due},
                                         {header::kOriginalTopic, origin_topic},
                                         {header::kOriginalPartition, origin_partition},
                                         {header::kOriginalOffset, origin_offset},
                                         {header::kError, record->last_error}},
                               {header::kErrorStage, header::kFingerprint, header::kSource});
  rd_kafka_resp_err_t error = produce_for(record, out, "retry");
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) try_again_later(record, error);
}

// ---- final outcomes -------------------------------------------------------------------

prometheus::Counter& Engine::outcome_counter(Outcome outcome, std::string_view reason) {
  LastOutcomeCounter& last = last_outcome_counter_[static_cast<size_t>(outcome)];
  if (last.reason == reason.data() && last.size == reason.size()) return *last.counter;
  auto key = std::make_pair(static_cast<int>(outcome), std::string(reason));
  auto it = outcome_counters_.find(key);
  if (it == outcome_counters_.end()) {
    prometheus::Counter& counter = metrics_.counter(
        metrics::MetricId::Outcomes, {{"outcome", std::string(outcome_name(outcome))}, {"reason", std::string(reason)}});
    it = outcome_counters_.emplace(std::move(key), &counter).first;
  }
  last = {reason.data(), reason.size(), it->second};
  return *it->second;
}

void Engine::complete(InFlightRecord* record, Outcome outcome, std::string_view reason) {
  SLUICE_ASSERT(!record->awaiting_delivery, "record completed while a delivery is outstanding");
  outcome_counter(outcome, reason).Increment();
  PartitionState& partition = *record->partition;
  if (!partition.revoked) {
    bool tracked = partition.offsets.complete(record->offset);
    SLUICE_ASSERT(tracked, "completed offset was not tracked");
  }
  partition.last_progress = now_.steady;
  const int64_t now_ms = now_.epoch_ms;
  if (outcome == Outcome::Forwarded && record->timestamp_ms > 0) {
    end_to_end_histogram_->Observe(static_cast<double>(std::max<int64_t>(0, now_ms - record->timestamp_ms)) / 1000.0);
  }
  partition.in_flight -= 1;
  in_flight_bytes_ -= record->bytes;
  last_progress_gauge_->Set(static_cast<double>(now_ms) / 1000.0);
  pool_.release(record);
}

// A record of a revoked partition is dropped without an outcome: its offset was not
// committed, so the partition's new owner processes it.
void Engine::abandon(InFlightRecord* record) {
  SLUICE_ASSERT(!record->awaiting_delivery, "record abandoned while a delivery is outstanding");
  hand_over_reservation(record);
  record->partition->in_flight -= 1;
  in_flight_bytes_ -= record->bytes;
  pool_.release(record);
}

// ---- timers ---------------------------------------------------------------------------

std::chrono::milliseconds Engine::backoff(int attempts) {
  // 100ms, 200ms, 400ms ... capped at 10s: fast recovery after a blip, little load in an outage.
  int exponent = std::clamp(attempts - 1, 0, 7);
  return std::min(milliseconds(100) * (1 << exponent), milliseconds(10'000));
}

void Engine::schedule(InFlightRecord* record, std::chrono::milliseconds delay) {
  push_timer(Timer{Clock::now() + delay, 0, record, nullptr, -1});
}

void Engine::push_timer(Timer timer) {
  timer.sequence = timer_sequence_++;
  timers_.push(std::move(timer));
}

void Engine::fire_due_timers() {
  auto now = Clock::now();
  while (!timers_.empty() && timers_.top().due <= now) {
    Timer timer = timers_.top();
    timers_.pop();
    if (timer.sink >= 0) {
      sinks_[static_cast<size_t>(timer.sink)].wake_scheduled = false;
      pump_breaker(timer.sink);
      continue;
    }
    if (timer.partition) {
      release_held(timer.partition);
      continue;
    }
    InFlightRecord* record = timer.record;
    if (record->step == Step::Dedup) {
      dedup_rechecks_scheduled_ -= 1;
      SLUICE_ASSERT(dedup_rechecks_scheduled_ >= 0, "every dedup recheck timer was counted");
    }
    if (record->partition->revoked) {
      abandon(record);
      continue;
    }
    switch (record->step) {
      case Step::Dedup: dedup_queue_.push_back(record); break;
      case Step::Forwarding: start_forward(record); break;
      case Step::Retrying: start_retry(record); break;
      case Step::DeadLettering: start_dead_letter(record); break;
      case Step::Rejecting: start_reject(record); break;
      case Step::Staging:
      case Step::Held:
      case Step::WaitingOnPeer:
      case Step::WaitingOnBreaker: SLUICE_ASSERT(false, "a waiting record has no timer of its own"); break;
    }
  }
  // Consumption paused for the dedup store resumes when a record asking it again gets an
  // answer. When every record that would have asked was given up instead (its partition
  // revoked in a rebalance), none is left to ask, and every partition, also those assigned
  // since, would stay paused for good: resume, and let the next records ask (they pause it
  // again if the store is still down).
  if (dedup_down_ && dedup_rechecks_scheduled_ == 0 && dedup_queue_.empty()) {
    log::info("no record is left to ask the dedup store again; resuming consumption to ask it",
              {{"backend", dedup_->backend_name()}});
    dedup_down_ = false;
    set_pause_all(kPauseDedupDown, false);
  }
}

// ---- pausing --------------------------------------------------------------------------

void Engine::apply_pauses(const std::vector<PartitionState*>& partitions) {
  kafka::PartitionListPtr to_pause(rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size())));
  kafka::PartitionListPtr to_resume(rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size())));
  for (PartitionState* partition : partitions) {
    bool want = partition->pause_reasons != 0;
    if (want == partition->paused_in_client || partition->revoked) continue;
    rd_kafka_topic_partition_list_add(want ? to_pause.get() : to_resume.get(), partition->topic.c_str(),
                                      partition->partition);
    partition->paused_in_client = want;
  }
  if (to_pause->cnt > 0) rd_kafka_pause_partitions(consumer_.get(), to_pause.get());
  if (to_resume->cnt > 0) {
    rd_kafka_resume_partitions(consumer_.get(), to_resume.get());
    consumer_may_have_more_ = true;
  }
}

void Engine::set_pause(PartitionState& partition, uint32_t reason, bool paused) {
  if (paused) {
    partition.pause_reasons |= reason;
  } else {
    partition.pause_reasons &= ~reason;
  }
  apply_pauses({&partition});
}

void Engine::set_pause_all(uint32_t reason, bool paused) {
  std::vector<PartitionState*> all;
  for (auto& [key, partition] : partitions_) {
    if (paused) {
      partition->pause_reasons |= reason;
    } else {
      partition->pause_reasons &= ~reason;
    }
    all.push_back(partition.get());
  }
  apply_pauses(all);
}

// Backpressure first only stops taking records from the consumer queue; librdkafka then stops
// fetching once its prefetch limit (queued.max.messages.kbytes) is reached. Pausing at once
// would be far costlier: a pause discards everything librdkafka prefetched for the partition
// (it bumps the partition's fetch version) and the resume fetches it all again, which at full
// speed happens every few hundred milliseconds. But a consumer that is not polled serves no
// rebalance and is dropped from the group after max.poll.interval.ms, so backpressure that
// lasts kBackpressurePauseAfter pauses every partition and polling resumes.
void Engine::update_backpressure() {
  const int64_t max_records = config_->pipeline.max_in_flight_records;
  const int64_t max_bytes = config_->pipeline.max_in_flight_bytes;
  auto now = Clock::now();
  if (!backpressured_ && (pool_.live() >= max_records || in_flight_bytes_ >= max_bytes)) {
    backpressured_ = true;
    backpressure_since_ = now;
  } else if (backpressured_ && pool_.live() <= max_records * 8 / 10 && in_flight_bytes_ <= max_bytes * 8 / 10) {
    // Resume below 80% so the pause does not flap on every record.
    backpressured_ = false;
    consumer_may_have_more_ = true;
    if (backpressure_paused_) {
      backpressure_paused_ = false;
      set_pause_all(kPauseBackpressure, false);
    }
  }
  if (backpressured_ && !backpressure_paused_ && now - backpressure_since_ >= kBackpressurePauseAfter) {
    backpressure_paused_ = true;
    set_pause_all(kPauseBackpressure, true);
    consumer_may_have_more_ = true;
  }
}

// ---- exactly-once -----------------------------------------------------------------------

void Engine::log_transaction_call(std::string_view call, rd_kafka_error_t* error) {
  if (error == nullptr) {
    log::debug("transaction call", {{"call", call}});
  } else {
    log::warn("transaction call failed", {{"call", call},
                                          {"error", rd_kafka_error_name(error)},
                                          {"detail", rd_kafka_error_string(error)},
                                          {"retriable", static_cast<bool>(rd_kafka_error_is_retriable(error))},
                                          {"abortable", static_cast<bool>(rd_kafka_error_txn_requires_abort(error))},
                                          {"fatal", static_cast<bool>(rd_kafka_error_is_fatal(error))}});
  }
}

void Engine::ensure_transaction() {
  if (!transactional_ || transaction_open_) return;
  kafka::ErrorPtr error = producer_->begin_transaction();
  log_transaction_call("begin_transaction", error.get());
  if (error) {
    // Only a broken producer refuses to begin (fatal, e.g. fenced): stop and let the
    // supervisor start a fresh instance.
    fatal_error_.store(true);
    return;
  }
  transaction_open_ = true;
}

// One exactly-once round: wait for every output of the open transaction, add the offsets of
// the completed prefix of each partition, and commit both atomically. On an abortable error
// the transaction is aborted and consumption rewinds to the last committed offsets, so the
// round is processed again. Returns false when nothing could be committed.
bool Engine::commit_transaction_round() {
  if (fatal_error_.load()) return false;
  kafka::PartitionListPtr offsets(rd_kafka_topic_partition_list_new(static_cast<int>(partitions_.size())));
  auto collect = [&] {
    rd_kafka_topic_partition_list_destroy(offsets.release());
    offsets.reset(rd_kafka_topic_partition_list_new(static_cast<int>(partitions_.size())));
    for (auto& [key, partition] : partitions_) {
      if (auto position = partition->offsets.committable()) {
        rd_kafka_topic_partition_list_add(offsets.get(), partition->topic.c_str(), partition->partition)->offset =
            *position;
      }
    }
  };
  collect();
  if (!transaction_open_ && offsets->cnt == 0) return true;  // nothing produced, nothing to commit
  ensure_transaction();
  if (!transaction_open_) return false;

  // Outputs first: a record whose output is still in flight must not have its offset
  // committed without it. Failures handled meanwhile may add retry or DLQ records.
  auto deadline = Clock::now() + kTransactionCallTimeout;
  while (producer_->outstanding() > 0 && Clock::now() < deadline) {
    producer_->flush(milliseconds(100));
    flush_dedup_updates();
  }
  collect();
  if (offsets->cnt > 0) {
    kafka::ErrorPtr error = producer_->send_offsets_to_transaction(*offsets, *group_metadata_, kTransactionCallTimeout);
    log_transaction_call("send_offsets_to_transaction", error.get());
    if (error) {
      if (rd_kafka_error_is_fatal(error.get())) {
        fatal_error_.store(true);
      } else {
        abort_and_rewind(rd_kafka_error_string(error.get()));
      }
      return false;
    }
  }
  kafka::ErrorPtr error = producer_->commit_transaction(kTransactionCallTimeout);
  for (int attempt = 0; error && rd_kafka_error_is_retriable(error.get()) && attempt < 3; ++attempt) {
    log_transaction_call("commit_transaction", error.get());
    error = producer_->commit_transaction(kTransactionCallTimeout);
  }
  log_transaction_call("commit_transaction", error.get());
  if (error) {
    if (rd_kafka_error_txn_requires_abort(error.get())) {
      abort_and_rewind(rd_kafka_error_string(error.get()));
    } else {
      // Fenced by a newer instance with our transactional.id, or otherwise unusable.
      log::error("transaction cannot be committed; stopping", {{"error", rd_kafka_error_string(error.get())}});
      fatal_error_.store(true);
    }
    return false;
  }
  transaction_open_ = false;
  for (int i = 0; i < offsets->cnt; ++i) {
    if (auto partition = find_partition(offsets->elems[i].topic, offsets->elems[i].partition)) {
      partition->offsets.mark_committed(offsets->elems[i].offset);
    }
  }
  if (!transaction_confirms_.empty()) {
    confirms_.insert(confirms_.end(), transaction_confirms_.begin(), transaction_confirms_.end());
    transaction_confirms_.clear();
    flush_dedup_updates();
    dedup_->flush();
  }
  metrics_.counter(metrics::MetricId::OffsetCommits, {{"result", "ok"}}).Increment();
  return true;
}

// Aborts the open transaction and starts over from the last committed offsets: every
// partition gets fresh state, and every record of the old state is given up (their outputs
// were aborted; they are consumed and processed again).
void Engine::abort_and_rewind(const std::string& why) {
  log::warn("transaction aborted; rewinding to the committed offsets", {{"reason", why}});
  metrics_.counter(metrics::MetricId::OffsetCommits, {{"result", "aborted"}}).Increment();
  kafka::ErrorPtr error = producer_->abort_transaction(kTransactionCallTimeout);
  log_transaction_call("abort_transaction", error.get());
  if (error) {
    fatal_error_.store(true);
    return;
  }
  transaction_open_ = false;
  releases_.insert(releases_.end(), transaction_confirms_.begin(), transaction_confirms_.end());
  transaction_confirms_.clear();

  kafka::PartitionListPtr positions(rd_kafka_topic_partition_list_new(static_cast<int>(partitions_.size())));
  std::vector<PartitionState*> fresh;
  for (auto& [key, old_state] : partitions_) {
    rd_kafka_topic_partition_list_add(positions.get(), old_state->topic.c_str(), old_state->partition);
    old_state->revoked = true;
    for (InFlightRecord* record : old_state->held) abandon(record);
    old_state->held.clear();
    std::shared_ptr<PartitionState> state = new_partition_state(old_state->topic, old_state->partition);
    state->pause_reasons = old_state->pause_reasons & (kPauseStopping | kPauseBackpressure | kPauseDedupDown);
    state->paused_in_client = old_state->paused_in_client;
    old_state = state;
    fresh.push_back(state.get());
  }
  last_partition_ = {};
  for (SinkSlot& slot : sinks_) {
    std::deque<InFlightRecord*> waiting;
    waiting.swap(slot.waiting);
    for (InFlightRecord* record : waiting) abandon(record);
    slot.waiting_gauge->Set(0);
  }
  rd_kafka_resp_err_t committed_error = rd_kafka_committed(consumer_.get(), positions.get(), 10'000);
  for (int i = 0; i < positions->cnt; ++i) {
    // No committed offset yet: start where a new group starts.
    if (committed_error != RD_KAFKA_RESP_ERR_NO_ERROR || positions->elems[i].offset < 0) {
      positions->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
    }
  }
  kafka::ErrorPtr seek_error(rd_kafka_seek_partitions(consumer_.get(), positions.get(), 10'000));
  if (seek_error) {
    log::error("rewind failed; stopping", {{"error", rd_kafka_error_string(seek_error.get())}});
    fatal_error_.store(true);
    return;
  }
  apply_pauses(fresh);
  // Delivery reports of the purged outputs: their records belong to revoked states now.
  producer_->poll(milliseconds(0));
  consumer_may_have_more_ = true;
}

// ---- offsets and the group ------------------------------------------------------------

void Engine::commit(bool synchronous) {
  if (transactional_) {
    commit_transaction_round();
    return;
  }
  std::vector<std::shared_ptr<PartitionState>> partitions;
  for (auto& [key, partition] : partitions_) partitions.push_back(partition);
  if (!synchronous) {
    commit_when_durable(partitions);
    return;
  }
  // A synchronous commit is used when the positions must be durable before going on (stop);
  // a failure is logged and the records are redelivered later.
  flush_dedup_updates();
  if (!dedup_->flush()) {
    log::error("dedup flush failed; offsets not committed");
    return;
  }
  // Everything below is at or past the positions still waiting for their ticket.
  deferred_commits_.clear();
  kafka::PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size())));
  for (auto& partition : partitions) {
    if (auto position = partition->offsets.committable()) {
      rd_kafka_topic_partition_list_add(list.get(), partition->topic.c_str(), partition->partition)->offset = *position;
    }
  }
  if (list->cnt == 0) return;
  rd_kafka_resp_err_t error = rd_kafka_commit(consumer_.get(), list.get(), 0);
  for (int i = 0; i < list->cnt; ++i) {
    const rd_kafka_topic_partition_t& entry = list->elems[i];
    auto partition = find_partition(entry.topic, entry.partition);
    if (!partition) {
      for (auto& candidate : partitions) {
        if (candidate->topic == entry.topic && candidate->partition == entry.partition) partition = candidate;
      }
    }
    if (!partition) continue;
    if (error == RD_KAFKA_RESP_ERR_NO_ERROR && entry.err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      partition->offsets.mark_committed(entry.offset);
    }
  }
  bool failed = error != RD_KAFKA_RESP_ERR_NO_ERROR;
  metrics_.counter(metrics::MetricId::OffsetCommits, {{"result", failed ? "failed" : "ok"}}).Increment();
  if (failed) log::warn("offset commit failed", {{"error", kafka::error_name(error)}});
}

void Engine::commit_when_durable(const std::vector<std::shared_ptr<PartitionState>>& partitions) {
  // Confirmed fingerprints become durable before the offsets that depend on them. A store
  // that writes on a thread of its own answers later; its offsets wait in deferred_commits_
  // rather than hold up the loop.
  flush_dedup_updates();
  const uint64_t ticket = dedup_->request_flush();
  Positions positions;
  for (const auto& partition : partitions) {
    if (partition->revoked) continue;
    if (auto position = partition->offsets.committable()) positions.emplace_back(partition, *position);
  }
  if (positions.empty()) return;
  if (deferred_commits_.size() >= kMaxDeferredCommits) {
    DeferredCommit& newest = deferred_commits_.back();
    newest.ticket = ticket;
    merge_positions(newest.positions, std::move(positions));
  } else {
    deferred_commits_.push_back(DeferredCommit{.ticket = ticket, .positions = std::move(positions)});
  }
  send_durable_commits();
}

void Engine::merge_positions(Positions& into, Positions&& from) {
  // Positions only grow, so the larger one per partition wins.
  for (auto& [partition, position] : from) {
    auto same = std::find_if(into.begin(), into.end(), [&](const auto& entry) { return entry.first == partition; });
    if (same == into.end()) {
      into.emplace_back(std::move(partition), position);
    } else {
      same->second = std::max(same->second, position);
    }
  }
}

void Engine::send_durable_commits() {
  const uint64_t durable = dedup_->durable_ticket();
  Positions latest;
  while (!deferred_commits_.empty() && deferred_commits_.front().ticket <= durable) {
    merge_positions(latest, std::move(deferred_commits_.front().positions));
    deferred_commits_.pop_front();
  }
  if (latest.empty()) return;
  kafka::PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(latest.size())));
  std::vector<std::shared_ptr<PartitionState>> sent;
  for (auto& [partition, position] : latest) {
    // Revoked meanwhile (its own commit went with the revocation), or already committed this
    // far by a synchronous commit.
    if (partition->revoked) continue;
    if (auto committed = partition->offsets.committed(); committed && *committed >= position) continue;
    rd_kafka_topic_partition_list_add(list.get(), partition->topic.c_str(), partition->partition)->offset = position;
    partition->offsets.mark_committed(position);  // optimistic; on_offset_commit undoes it on failure
    sent.push_back(partition);
  }
  if (list->cnt == 0) return;
  rd_kafka_resp_err_t error = rd_kafka_commit(consumer_.get(), list.get(), 1);
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    for (const auto& partition : sent) partition->offsets.forget_committed();
    metrics_.counter(metrics::MetricId::OffsetCommits, {{"result", "failed"}}).Increment();
    log::warn("offset commit not sent", {{"error", kafka::error_name(error)}});
  }
}

void Engine::commit_revoked(const std::vector<std::shared_ptr<PartitionState>>& partitions) {
  // Waits for the dedup store: the commit must go before the group rebalances.
  flush_dedup_updates();
  if (!dedup_->flush()) {
    log::error("dedup flush failed; offsets not committed");
    return;
  }
  commit_when_durable(partitions);
}

void Engine::on_offset_commit(rd_kafka_t*, rd_kafka_resp_err_t error, rd_kafka_topic_partition_list_t* offsets,
                              void* opaque) {
  auto* self = static_cast<Engine*>(static_cast<kafka::ClientContext*>(opaque)->owner);
  if (error == RD_KAFKA_RESP_ERR__NO_OFFSET) return;
  bool failed = error != RD_KAFKA_RESP_ERR_NO_ERROR;
  for (int i = 0; offsets != nullptr && i < offsets->cnt; ++i) {
    const rd_kafka_topic_partition_t& entry = offsets->elems[i];
    if (entry.err == RD_KAFKA_RESP_ERR_NO_ERROR && !failed) continue;
    failed = true;
    if (auto partition = self->find_partition(entry.topic, entry.partition)) partition->offsets.forget_committed();
  }
  self->metrics_.counter(metrics::MetricId::OffsetCommits, {{"result", failed ? "failed" : "ok"}}).Increment();
  if (failed) log::warn("offset commit failed; will retry", {{"error", kafka::error_name(error)}});
}

void Engine::on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t error, rd_kafka_topic_partition_list_t* partitions,
                          void* opaque) {
  auto* self = static_cast<Engine*>(static_cast<kafka::ClientContext*>(opaque)->owner);
  const bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
  if (error == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    if (cooperative) {
      kafka::ErrorPtr assign_error(rd_kafka_incremental_assign(rk, partitions));
      if (assign_error) log::error("incremental assign failed", {{"error", rd_kafka_error_string(assign_error.get())}});
    } else {
      rd_kafka_assign(rk, partitions);
    }
    self->on_assign(*partitions);
  } else if (error == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
    self->on_revoke(*partitions);
    if (cooperative) {
      kafka::ErrorPtr unassign_error(rd_kafka_incremental_unassign(rk, partitions));
      if (unassign_error) {
        log::error("incremental unassign failed", {{"error", rd_kafka_error_string(unassign_error.get())}});
      }
    } else {
      rd_kafka_assign(rk, nullptr);
    }
  } else {
    log::error("rebalance failed", {{"error", kafka::error_name(error)}});
    self->on_revoke(*partitions);
    rd_kafka_assign(rk, nullptr);
  }
}

std::shared_ptr<PartitionState> Engine::new_partition_state(const std::string& topic, int32_t partition) {
  auto state = std::make_shared<PartitionState>(topic, partition);
  state->consumed_counter = &metrics_.counter(metrics::MetricId::RecordsConsumed, {{"topic", topic}});
  if (auto tier = tier_of_topic_.find(topic); tier != tier_of_topic_.end()) {
    state->retry_tier = static_cast<int>(tier->second);
  }
  return state;
}

void Engine::on_assign(const rd_kafka_topic_partition_list_t& partitions) {
  std::vector<PartitionState*> created;
  for (int i = 0; i < partitions.cnt; ++i) {
    const rd_kafka_topic_partition_t& entry = partitions.elems[i];
    std::shared_ptr<PartitionState> state = new_partition_state(entry.topic, entry.partition);
    // A new partition joins whatever global pause is in force (shutdown, backpressure, ...).
    if (stopping_) state->pause_reasons |= kPauseStopping;
    if (backpressure_paused_) state->pause_reasons |= kPauseBackpressure;
    if (dedup_down_) state->pause_reasons |= kPauseDedupDown;
    partitions_[std::make_pair(std::string(entry.topic), entry.partition)] = state;
    last_partition_ = {};
    created.push_back(state.get());
  }
  // librdkafka keeps a partition's pause flag through a revoke and a new assignment of the
  // same partition, while the new state above starts unpaused: a partition paused for an
  // open breaker or a held retry when a rebalance came would never be resumed. Resume them
  // all in librdkafka first, so both views agree before the pauses in force are applied.
  kafka::PartitionListPtr assigned(rd_kafka_topic_partition_list_copy(&partitions));
  rd_kafka_resume_partitions(consumer_.get(), assigned.get());
  apply_pauses(created);
  consumer_may_have_more_ = true;
  if (!joined_) {
    joined_ = true;
    lifecycle_->on_joined();
  }
  log::info("partitions assigned", {{"count", partitions.cnt}, {"assigned_total", static_cast<int64_t>(partitions_.size())}});
}

void Engine::on_revoke(const rd_kafka_topic_partition_list_t& partitions) {
  std::vector<std::shared_ptr<PartitionState>> revoked;
  for (int i = 0; i < partitions.cnt; ++i) {
    const rd_kafka_topic_partition_t& entry = partitions.elems[i];
    if (auto state = find_partition(entry.topic, entry.partition)) revoked.push_back(state);
  }
  // Let deliveries already in librdkafka's hands finish, so their offsets are committed
  // before another instance takes over; everything else is given up (not committed).
  auto deadline = Clock::now() + std::min(kRevokeDrainLimit, config_->shutdown.drain_timeout);
  auto producing = [&] {
    int64_t count = 0;
    for (auto& state : revoked) count += state->awaiting_delivery;
    return count;
  };
  // Records an HTTP route's ordering gate still holds back were not sent: give them up now.
  for (SinkSlot& slot : sinks_) {
    if (slot.http == nullptr) continue;
    for (auto& state : revoked) {
      for (InFlightRecord* record : slot.http->withdraw(*state)) {
        record->awaiting_delivery = false;
        record->partition->awaiting_delivery -= 1;
        slot.breaker->cancel(record->permit);
        abandon(record);
      }
    }
  }
  while (producing() > 0 && Clock::now() < deadline) {
    producer_->poll(milliseconds(10));
    drain_http_responses();
    flush_dedup_updates();
  }
  if (transactional_) {
    commit_transaction_round();
  } else {
    commit_revoked(revoked);
  }
  // The asynchronous commit above is enough for a rebalance: librdkafka sends it before it
  // rejoins, and a lost commit only means redelivery (at-least-once).
  for (auto& state : revoked) {
    state->revoked = true;
    partitions_.erase(std::make_pair(state->topic, state->partition));
    last_partition_ = {};
    metrics_.remove_gauge(metrics::MetricId::ConsumerLag,
                          {{"topic", state->topic}, {"partition", std::to_string(state->partition)}});
    // Records held until due, or waiting for a breaker, are simply released: the new owner
    // reads them again from the committed offset.
    for (InFlightRecord* record : state->held) abandon(record);
    state->held.clear();
  }
  for (size_t sink = 0; sink < sinks_.size(); ++sink) {
    SinkSlot& slot = sinks_[sink];
    std::deque<InFlightRecord*> keep;
    for (InFlightRecord* record : slot.waiting) {
      if (record->partition->revoked) {
        record->partition->waiting_on_breaker -= 1;
        abandon(record);
      } else {
        keep.push_back(record);
      }
    }
    slot.waiting.swap(keep);
    slot.waiting_gauge->Set(static_cast<double>(slot.waiting.size()));
  }
  // Records of revoked partitions that wait for nothing external are dropped now; those
  // waiting on a timer or a peer are dropped when they are next touched.
  log::info("partitions revoked", {{"count", partitions.cnt},
                                   {"unfinished_deliveries", producing()},
                                   {"assigned_total", static_cast<int64_t>(partitions_.size())}});
}

void Engine::on_client_error(std::string_view client, rd_kafka_resp_err_t error, const std::string& reason,
                             bool fatal) {
  if (fatal) {
    log::error("fatal kafka client error; stopping", {{"client", client}, {"error", kafka::error_name(error)},
                                                       {"detail", reason}});
    fatal_error_.store(true);
    return;
  }
  metrics_.counter(metrics::MetricId::ConsumerErrors, {{"error", kafka::error_name(error)}}).Increment();
  auto now = Clock::now();
  auto& last = last_error_log_[error];
  if (now - last < kErrorLogInterval) return;
  last = now;
  if (error == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
    log::warn("kafka brokers unreachable; waiting for them", {{"client", client}, {"detail", reason}});
  } else {
    log::warn("kafka client error", {{"client", client}, {"error", kafka::error_name(error)}, {"detail", reason}});
  }
}

void Engine::report_http_stats() {
  for (SinkSlot& slot : sinks_) {
    if (slot.http == nullptr) continue;
    const http::ClientStats current = slot.http->stats();
    const std::map<std::string, std::string> labels{{"sink", slot.sink->name()}};
    auto add = [&](metrics::MetricId id, uint64_t now_counted, uint64_t& reported) {
      prometheus::Counter& counter = metrics_.counter(id, labels);  // created at 0 on the first call
      if (now_counted > reported) counter.Increment(static_cast<double>(now_counted - reported));
      reported = now_counted;
    };
    http::ClientStats& reported = slot.http_reported;
    add(metrics::MetricId::HttpConnectionsOpened, current.connections_opened, reported.connections_opened);
    add(metrics::MetricId::HttpRequestsResent, current.requests_resent, reported.requests_resent);
    add(metrics::MetricId::HttpRequestsPipelined, current.requests_pipelined, reported.requests_pipelined);
  }
}

// Once a second: consumer lag per partition (from librdkafka's cached watermarks, no broker
// round trip), the age of the oldest unfinished record, stalled partitions, and the HTTP
// clients' counters.
void Engine::observe_periodically() {
  report_http_stats();
  auto now = Clock::now();
  int64_t now_ms = text::now_epoch_ms();
  int64_t oldest_ms = now_ms;
  int64_t stalled = 0;
  for (auto& [key, partition] : partitions_) {
    int64_t low = 0, high = 0;
    if (rd_kafka_get_watermark_offsets(consumer_.get(), partition->topic.c_str(), partition->partition, &low, &high) ==
            RD_KAFKA_RESP_ERR_NO_ERROR &&
        high >= 0) {
      int64_t position = partition->offsets.committed().value_or(low);
      metrics_.gauge(metrics::MetricId::ConsumerLag,
                     {{"topic", partition->topic}, {"partition", std::to_string(partition->partition)}})
          .Set(static_cast<double>(std::max<int64_t>(0, high - position)));
    }
    if (auto since = partition->offsets.oldest_pending_since()) oldest_ms = std::min(oldest_ms, *since);
    // Records waiting on purpose (a retry tier's due time, an open breaker) are not a stall.
    int64_t working = partition->in_flight - static_cast<int64_t>(partition->held.size()) - partition->waiting_on_breaker;
    bool is_stalled = working > 0 && now - partition->last_progress >= config_->pipeline.stall_timeout;
    if (is_stalled != partition->stalled) {
      partition->stalled = is_stalled;
      if (is_stalled) {
        log::warn("partition stalled: records in flight and no progress",
                  {{"topic", partition->topic},
                   {"partition", partition->partition},
                   {"in_flight", partition->in_flight},
                   {"oldest_offset", partition->offsets.oldest_pending().value_or(-1)},
                   {"stall_timeout", text::format_duration(config_->pipeline.stall_timeout)}});
      } else {
        log::info("partition moving again", {{"topic", partition->topic}, {"partition", partition->partition}});
      }
    }
    stalled += is_stalled ? 1 : 0;
  }
  metrics_.gauge(metrics::MetricId::OldestUnfinishedAge).Set(static_cast<double>(now_ms - oldest_ms) / 1000.0);
  metrics_.gauge(metrics::MetricId::StalledPartitions).Set(static_cast<double>(stalled));
  if (stalled != stalled_partitions_) {
    stalled_partitions_ = stalled;
    lifecycle_->on_stalled(stalled);
  }
}

void Engine::update_gauges() {
  loop_gauges_.in_flight_records->Set(static_cast<double>(pool_.live()));
  loop_gauges_.in_flight_bytes->Set(static_cast<double>(in_flight_bytes_));
  int64_t paused = 0;
  for (auto& [key, partition] : partitions_) paused += partition->paused_in_client ? 1 : 0;
  loop_gauges_.paused_partitions->Set(static_cast<double>(paused));
  loop_gauges_.assigned_partitions->Set(static_cast<double>(partitions_.size()));
}

}  // namespace sluice::engine
