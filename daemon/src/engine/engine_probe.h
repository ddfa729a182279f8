#pragma once
// What the engine shows of itself: the outcome counters (looked up once per outcome and
// reason), forwards per route, failed deliveries per sink, the loop's gauges, records by step,
// consumer lag, the age of the oldest unfinished record, stalled partitions, and rate-limited log lines for events that can flood (bad data, client errors,
// failed deliveries).
//
// Threading: engine thread only (prometheus-cpp's counters and gauges are atomic for the
// scraping thread).

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "engine/error_classes.h"
#include "engine/in_flight_record.h"
#include "common/outcome.h"
#include "engine/partition_table.h"
#include "engine/watermark_poller.h"
#include "kafka/consumer_api.h"
#include "metrics/metrics.h"

namespace sluice::engine {

class EngineProbe {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  EngineProbe(metrics::Metrics& metrics, const config::Config& config);

  metrics::Metrics& metrics() { return metrics_; }

  // The sink of every route (routes[i] delivers to route_sinks[i]): creates the per-route
  // series at zero. Called once, before the first record.
  void add_routes(const std::vector<std::string>& route_sinks);

  // A record reached its final outcome (the one `reason` is for) at `now_ms` (epoch); a
  // delivered one counts for its route too.
  void count_outcome(const InFlightRecord& record, Reason reason, int64_t now_ms);
  // A failed delivery to sluice's own topics: `destination` is retry, dlq or rejected.
  void count_produce_error(const char* destination, std::string_view topic, rd_kafka_resp_err_t error);
  // A failed delivery of a route.
  void count_route_error(int route, ErrorClass error_class);
  void count_truncated_envelope();
  void count_tier_send(const std::string& tier_topic);
  void count_replayed(const std::string& topic);
  void count_parking_refused();
  // retry.ordering: key — keys parked and their records (ParkedKeys).
  void set_parked(size_t keys, size_t records);

  // One log line per event, but at most one per second per reason when bad data floods in
  // (the rest are counted in the next line). Bodies and details (which may quote message
  // data) only with logging.include_payloads.
  void log_record_event(std::string_view message, const InFlightRecord& record, TimePoint now);
  // True at most once per 10 s for `key`: for warnings that repeat while an outage lasts.
  bool should_log(std::string_view key, TimePoint now);
  void on_client_error(std::string_view client, rd_kafka_resp_err_t error, const std::string& reason, TimePoint now);

  void update_loop_gauges(int64_t records, int64_t bytes, int64_t paused, int64_t assigned);
  // About every 100 ms and at the stop: the records in each step, what left each since the
  // last call (taken from the ledger), and how long the in-flight budget has held intake
  // stopped in all.
  void publish_steps(StepLedger& ledger, std::chrono::nanoseconds intake_stopped);
  // Once a second: lag per partition (the consumer's cached watermark, or the poller's for a
  // paused partition), the oldest unfinished record, stalled partitions. Returns how many
  // partitions are stalled.
  int64_t observe(const PartitionTable& partitions, kafka::ConsumerApi& consumer, WatermarkPoller* poller,
                  TimePoint now, int64_t now_ms);
  void forget_partition(const PartitionState& partition);

 private:
  metrics::Metrics& metrics_;
  const bool include_payloads_;
  const std::chrono::milliseconds stall_timeout_;
  // Creates sluice_producer_errors_total{destination,sink,class} of both classes at zero.
  void add_produce_errors(const char* destination, const std::string& sink);
  prometheus::Counter& produce_error_counter(const char* destination, const std::string& sink, ErrorClass error_class);

  // sluice_pipeline_outcomes_total{outcome,reason} of every reason, created (at 0) at start.
  std::array<prometheus::Counter*, kReasonCount> outcome_counters_{};
  // Per route (index into config.routes): its sink and sluice_route_forwarded_records_total.
  std::vector<std::string> route_sinks_;
  std::vector<prometheus::Counter*> route_forwarded_;
  prometheus::Histogram* end_to_end_ = nullptr;
  prometheus::Gauge* last_progress_ = nullptr;
  struct LoopGauges {
    prometheus::Gauge* in_flight_records = nullptr;
    prometheus::Gauge* in_flight_bytes = nullptr;
    prometheus::Gauge* paused_partitions = nullptr;
    prometheus::Gauge* assigned_partitions = nullptr;
  } loop_gauges_;
  // sluice_pipeline_{records_by_step,step_seconds_total,step_records_total}, per Step.
  struct StepSeries {
    prometheus::Gauge* records = nullptr;
    prometheus::Counter* seconds = nullptr;
    prometheus::Counter* left = nullptr;
  };
  std::array<StepSeries, kStepCount> steps_{};
  prometheus::Counter* intake_stopped_ = nullptr;
  std::chrono::nanoseconds intake_stopped_published_{0};
  struct EventLogState {
    TimePoint last{};
    int64_t suppressed = 0;
  };
  std::map<std::string, EventLogState, std::less<>> event_log_;  // per reason
  std::map<std::string, TimePoint, std::less<>> last_logged_;   // should_log()
};

}  // namespace sluice::engine
