#include "engine/destinations.h"

#include <array>
#include <map>

#include "engine/http_sink.h"
#include "config/validate.h"
#include "engine/kafka_topic_sink.h"

namespace sluice::engine {

std::unique_ptr<Destinations> Destinations::create(const config::Config& config, kafka::ProducerApi& producer,
                                                   DestinationEvents& events, metrics::Metrics& metrics,
                                                   std::function<void()> wake, std::vector<std::string>& errors) {
  std::unique_ptr<Destinations> all(new Destinations());
  all->metrics_ = &metrics;
  all->wake_ = std::move(wake);
  const config::CircuitBreakerConfig& breaker_config = config.circuit_breaker;
  BreakerSettings breaker;
  breaker.failure_threshold = static_cast<int>(breaker_config.failure_threshold);
  breaker.open_timeout = breaker_config.open_timeout;
  breaker.half_open_max_calls = static_cast<int>(breaker_config.half_open_max_calls);
  breaker.success_threshold = static_cast<int>(breaker_config.success_threshold);
  breaker.failure_rate_threshold = static_cast<double>(breaker_config.failure_rate_threshold);
  breaker.sliding_window_size = static_cast<int>(breaker_config.sliding_window_size);
  breaker.minimum_calls = static_cast<int>(breaker_config.minimum_calls);

  std::map<std::string, int> index_of_target;
  for (size_t i = 0; i < config.routes.size(); ++i) {
    const config::RouteConfig& route = config.routes[i];
    all->route_errors_.emplace_back(route.error_table);
    std::string target = route.http ? "http " + route.http->method + " " + route.http->url : "topic " + route.topic;
    auto [it, inserted] = index_of_target.try_emplace(target, static_cast<int>(all->destinations_.size()));
    all->route_destination_.push_back(it->second);
    if (!inserted) continue;
    const int index = it->second;
    std::unique_ptr<Sink> sink;
    HttpSink* http = nullptr;
    int capacity = 0;
    config::Ordering ordering = config::Ordering::None;  // a topic's producer keeps the order itself
    if (route.http) {
      if (!all->runtime_) all->runtime_ = std::make_unique<http::HttpRuntime>();
      std::string error;
      Destinations* self = all.get();
      std::unique_ptr<HttpSink> http_sink = HttpSink::create(
          *all->runtime_, route, [self, index](http::Response response) { self->push_response(index, std::move(response)); },
          error);
      if (!http_sink) {
        errors.push_back("routes[" + std::to_string(i) + "].http: " + error);
        all->destinations_.push_back(nullptr);
        all->instruments_.emplace_back();
        continue;
      }
      http = http_sink.get();
      capacity = http_sink->capacity();
      ordering = route.ordering;
      sink = std::move(http_sink);
    } else {
      sink = std::make_unique<KafkaTopicSink>(producer, route.topic);
      // With retry.ordering: key, a record that fails must not have been overtaken already by
      // a later record of its key: one record of a key at a time (other keys still pipelined).
      if (config.retry.ordering == config::RetryOrdering::Key) ordering = config::Ordering::Key;
    }
    const std::map<std::string, std::string> labels{{"sink", sink->name()}};
    all->instruments_.push_back({&metrics.gauge(metrics::MetricId::BreakerState, labels),
                                 &metrics.gauge(metrics::MetricId::BreakerWaitingRecords, labels),
                                 &metrics.histogram(metrics::MetricId::SinkRequestDuration, labels),
                                 nullptr,
                                 nullptr,
                                 {}});
    // The sink's counters exist from start-up, at zero.
    for (BreakerState to : {BreakerState::Closed, BreakerState::Open, BreakerState::HalfOpen}) {
      metrics.counter(metrics::MetricId::BreakerTransitions, {{"sink", sink->name()}, {"to", std::string(breaker_state_name(to))}});
    }
    if (http != nullptr) {
      for (metrics::MetricId id : {metrics::MetricId::HttpConnectionsOpened, metrics::MetricId::HttpRequestsResent,
                                   metrics::MetricId::HttpRequestsPipelined}) {
        metrics.counter(id, labels);
      }
    }
    if (http != nullptr && route.http->batch) {
      all->instruments_.back().batch_records = &metrics.histogram(metrics::MetricId::HttpBatchRecords, labels);
      all->instruments_.back().batches_split = &metrics.counter(metrics::MetricId::HttpBatchesSplit, labels);
    }
    auto destination = std::make_unique<Destination>(index, std::move(sink), http, ordering, capacity, breaker, events);
    if (route.http) {
      std::optional<int64_t> fixed = config::fixed_concurrency(*route.http);
      destination->set_concurrency_limit(fixed ? ConcurrencyLimit::fixed(static_cast<int>(*fixed), capacity)
                                               : ConcurrencyLimit::adaptive(capacity));
    }
    if (route.http && route.http->batch) destination->set_batches(BatchSettings::from(*route.http->batch));
    if (route.rate_limit) {
      const auto rate = static_cast<double>(route.rate_limit->records_per_second);
      destination->set_rate_limit(
          RateLimiter(rate, route.rate_limit->burst > 0 ? static_cast<double>(route.rate_limit->burst) : rate));
    }
    all->destinations_.push_back(std::move(destination));
  }
  if (!errors.empty()) return nullptr;
  // The per-route series exist from start-up, at their first value.
  for (size_t i = 0; i < config.routes.size(); ++i) {
    Destination& destination = all->for_route(static_cast<int>(i));
    const std::map<std::string, std::string> labels{{"route", std::to_string(i)}, {"sink", destination.name()}};
    all->route_rate_waits_.push_back(&metrics.counter(metrics::MetricId::RouteRateLimitedWaits, labels));
    all->route_limit_.push_back(destination.http() != nullptr
                                    ? &metrics.gauge(metrics::MetricId::RouteConcurrencyLimit, labels)
                                    : nullptr);
    if (HttpSink* http = destination.http(); http != nullptr) {
      std::array<prometheus::Counter*, kHeaderDropCount> dropped{};
      for (size_t reason = 0; reason < kHeaderDropCount; ++reason) {
        dropped[reason] = &metrics.counter(
            metrics::MetricId::HttpHeadersDropped,
            {{"route", std::to_string(i)}, {"sink", destination.name()},
             {"reason", std::string(header_drop_name(static_cast<HeaderDrop>(reason)))}});
      }
      http->count_header_drops(static_cast<int>(i), dropped);
    }
  }
  all->update_gauges();
  return all;
}

Destinations::~Destinations() {
  // The sinks (and their clients) go before the runtime that runs them.
  destinations_.clear();
  runtime_.reset();
}

void Destinations::push_response(int index, http::Response response) {
  {
    std::lock_guard<std::mutex> lock(inbox_mutex_);
    inbox_.emplace_back(index, std::move(response));
  }
  if (wake_) wake_();
}

void Destinations::take_responses(std::vector<std::pair<int, http::Response>>& out) {
  // The two lists trade places, so neither is allocated again once grown.
  std::lock_guard<std::mutex> lock(inbox_mutex_);
  out.swap(inbox_);
}

void Destinations::flush_requests() {
  if (!runtime_) return;
  for (auto& destination : destinations_) {
    if (destination->http() != nullptr) destination->sink().flush();
  }
}

void Destinations::shutdown_http() {
  if (!runtime_) return;
  for (auto& destination : destinations_) {
    if (destination->http() != nullptr) destination->http()->shutdown();
  }
  runtime_->stop();
}

void Destinations::observe_request(Destination& destination, double seconds) {
  instruments_[static_cast<size_t>(destination.index())].request_duration->Observe(seconds);
}

void Destinations::count_batch(Destination& destination, size_t records) {
  instruments_[static_cast<size_t>(destination.index())].batch_records->Observe(static_cast<double>(records));
}

void Destinations::count_batch_split(Destination& destination) {
  instruments_[static_cast<size_t>(destination.index())].batches_split->Increment();
}

void Destinations::record_transition(Destination& destination, BreakerState to) {
  metrics_->counter(metrics::MetricId::BreakerTransitions,
                    {{"sink", destination.name()}, {"to", std::string(breaker_state_name(to))}})
      .Increment();
  instruments_[static_cast<size_t>(destination.index())].state->Set(
      to == BreakerState::Closed ? 0 : to == BreakerState::Open ? 1 : 2);
}

void Destinations::update_gauges() {
  for (auto& destination : destinations_) {
    instruments_[static_cast<size_t>(destination->index())].waiting->Set(
        static_cast<double>(destination->waiting_on_breaker()));
  }
  for (size_t route = 0; route < route_limit_.size(); ++route) {
    if (route_limit_[route] == nullptr) continue;
    route_limit_[route]->Set(static_cast<double>(for_route(static_cast<int>(route)).concurrency_limit()));
  }
}

void Destinations::report_http_stats() {
  for (auto& destination : destinations_) {
    if (destination->http() == nullptr) continue;
    const http::ClientStats current = destination->http()->stats();
    const std::map<std::string, std::string> labels{{"sink", destination->name()}};
    auto add = [&](metrics::MetricId id, uint64_t now_counted, uint64_t& reported) {
      prometheus::Counter& counter = metrics_->counter(id, labels);  // created at 0 in create()
      if (now_counted > reported) counter.Increment(static_cast<double>(now_counted - reported));
      reported = now_counted;
    };
    http::ClientStats& reported = instruments_[static_cast<size_t>(destination->index())].http_reported;
    add(metrics::MetricId::HttpConnectionsOpened, current.connections_opened, reported.connections_opened);
    add(metrics::MetricId::HttpRequestsResent, current.requests_resent, reported.requests_resent);
    add(metrics::MetricId::HttpRequestsPipelined, current.requests_pipelined, reported.requests_pipelined);
  }
}

}  // namespace sluice::engine
