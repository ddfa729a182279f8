#pragma once
// The engine moves records from the inbound topics to their final outcome, at least once:
//
//   consume (batch) → CPU stages → route → fingerprint → dedup reserve (batch)
//     → breaker permit → forward (sink) → acknowledged → dedup confirm → offset completes
//   bad data at any step → DLQ record (acknowledged) → offset completes
//   filtered → counted (or produced to rejected_topic, acknowledged) → offset completes
//   transient delivery failure → next retry tier (acknowledged) → offset completes;
//     after the last tier → DLQ with max_retries_exceeded
//   sink breaker not closed → the record waits and its partition is paused (no retry or DLQ
//     record is written because a destination is down)
//
// Retry tiers are consumed like inbound topics; a tier record that is not due yet is held and
// its partition paused until then, so other partitions keep flowing and polls continue.
//
// Offsets are committed per partition only up to the first record without a final outcome.
//
// Threading: run() is the engine thread; everything here runs on it, including librdkafka's
// rebalance, commit and delivery callbacks (served from its polls), except the CPU stages:
// with pipeline.stage_thread they run on a stage thread (StageThread), which owns the records
// handed to it until the engine takes them back. librdkafka's threads and the stage thread
// only wake the engine through a pipe. request_stop() is the one entry point safe from any
// thread or signal handler.
//
// Stop: request_stop() → pause every partition, finish in-flight records until
// shutdown.drain_timeout, flush the producer, flush dedup, commit, close the consumer (leave
// the group). Records still unfinished at the deadline are not committed: they are
// redelivered after the restart.

#include <array>
#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <memory>
#include <queue>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "config/config.h"
#include "dedup/dedup_store.h"
#include "engine/circuit_breaker.h"
#include "engine/error_classes.h"
#include "engine/http_sink.h"
#include "engine/in_flight_record.h"
#include "engine/lifecycle.h"
#include "engine/outcome.h"
#include "engine/router.h"
#include "engine/sink.h"
#include "engine/stage_runner.h"
#include "engine/stage_thread.h"
#include "fingerprint/fingerprint.h"
#include "fingerprint/fingerprint_map.h"
#include "kafka/client.h"
#include "kafka/producer.h"
#include "metrics/metrics.h"
#include "stages/stage.h"
#include "stages/stage_chain.h"

namespace sluice::engine {

class Engine {
 public:
  struct Parts {
    std::shared_ptr<const config::Config> config;
    std::unique_ptr<stages::StageChain> stage_chain;
    dedup::DedupStorePtr dedup;
    metrics::Metrics* metrics = nullptr;  // outlives the engine
    LifecycleListener* lifecycle = nullptr;  // optional; outlives the engine
  };

  // Builds the clients and sinks; every problem is appended to `errors` (nullptr returned).
  static std::unique_ptr<Engine> create(Parts parts, std::vector<std::string>& errors);
  ~Engine();

  // Consumes until stopped. Returns the process exit code (0 after a clean drain).
  int run();

  // Safe from any thread and from signal handlers.
  void request_stop();

 private:
  using Clock = std::chrono::steady_clock;
  // A timer re-drives one record (backoff, recheck), releases a partition's held retry
  // records, or wakes a sink whose breaker may let probes through.
  struct Timer {
    Clock::time_point due;
    uint64_t sequence;  // keeps equal due times in FIFO order
    InFlightRecord* record = nullptr;
    std::shared_ptr<PartitionState> partition;
    int sink = -1;
    bool operator>(const Timer& other) const {
      return due != other.due ? due > other.due : sequence > other.sequence;
    }
  };

  // A destination: its sink, its breaker, and the records waiting for the breaker.
  struct SinkSlot {
    std::unique_ptr<Sink> sink;
    HttpSink* http = nullptr;  // the same sink when it is an HTTP route
    std::unique_ptr<CircuitBreaker> breaker;
    std::deque<InFlightRecord*> waiting;
    bool wake_scheduled = false;
    prometheus::Gauge* state_gauge = nullptr;
    prometheus::Gauge* waiting_gauge = nullptr;
    prometheus::Histogram* request_histogram = nullptr;
    // HTTP routes: the client's counters as last added to the metrics.
    http::ClientStats http_reported;
  };

  explicit Engine(Parts parts);
  bool start(std::vector<std::string>& errors);

  // Event loop.
  void wait_for_events(std::chrono::milliseconds timeout);
  void iterate();
  void begin_stopping();
  void finish_stopping();
  std::chrono::milliseconds time_to_next_deadline() const;

  // Consumption and the CPU stages.
  void consume_available();
  void handle_message(kafka::MessagePtr message);
  void prefetch_consumed(size_t i, size_t count) const;  // of batch_, before handling record i
  // The state of a consumed record's partition; nullptr when it is not assigned (any more).
  PartitionState* partition_of(const rd_kafka_message_t& message);
  // Reads the clocks into now_ (see there).
  void refresh_now();
  // Runs the stages (inline, or queued for the stage thread) and then acts on the decision.
  void process(InFlightRecord* record);
  void submit_to_stages();
  void collect_staged();
  void act_on_stages(InFlightRecord* record);
  void hold(InFlightRecord* record);
  void release_held(const std::shared_ptr<PartitionState>& partition);
  std::shared_ptr<PartitionState> find_partition(std::string_view topic, int32_t partition);

  // Dedup.
  void enqueue_dedup(InFlightRecord* record);
  void run_dedup();
  void flush_dedup_updates();
  void resolve_waiters_as_duplicates(InFlightRecord* owner);
  // Pauses every partition while the dedup store cannot answer, or resumes them.
  void set_dedup_down(bool down);
  void hand_over_reservation(InFlightRecord* owner);
  // Forgets `record` as the owner of its fingerprint, if it is the owner.
  void drop_ownership(const InFlightRecord* record);

  // Producing.
  void start_forward(InFlightRecord* record);
  void start_dead_letter(InFlightRecord* record);
  void start_reject(InFlightRecord* record);
  void on_delivery(void* opaque, rd_kafka_resp_err_t error);
  // Handles the delivery reports the round's producer poll collected, in their order.
  void settle_deliveries();
  void on_forward_delivered(InFlightRecord* record);
  void on_forward_failed(InFlightRecord* record, ErrorClass error_class, const std::string& error);
  ErrorClass classify_for_route(int route, rd_kafka_resp_err_t error) const;
  ErrorClass classify_http_for_route(int route, int status) const;
  void push_http_response(int sink, http::Response response);  // HTTP runtime thread
  void drain_http_responses();
  void flush_http_requests();
  void on_http_response(int sink, const http::Response& response);
  void start_retry(InFlightRecord* record);
  void wait_on_breaker(InFlightRecord* record);
  void pump_breaker(int sink);
  void on_breaker_transition(int sink, BreakerState from, BreakerState to);
  void dead_letter(InFlightRecord* record, std::string_view stage, std::string_view reason, std::string detail);
  void mark_producing(InFlightRecord* record);
  void log_record_event(std::string_view msg, const InFlightRecord& record);
  rd_kafka_resp_err_t produce_for(InFlightRecord* record, kafka::OutboundRecord& out, const char* destination);
  void count_produce_error(const char* destination, rd_kafka_resp_err_t error);
  void try_again_later(InFlightRecord* record, rd_kafka_resp_err_t error);

  // Final outcomes.
  void complete(InFlightRecord* record, Outcome outcome, std::string_view reason);
  void abandon(InFlightRecord* record);

  // Timers and backoff.
  void schedule(InFlightRecord* record, std::chrono::milliseconds delay);
  void push_timer(Timer timer);
  void fire_due_timers();
  static std::chrono::milliseconds backoff(int attempts);

  // Pausing.
  void set_pause(PartitionState& partition, uint32_t reason, bool paused);
  void set_pause_all(uint32_t reason, bool paused);
  void apply_pauses(const std::vector<PartitionState*>& partitions);
  void update_backpressure();

  // Exactly-once: the Kafka transaction that holds this round's outputs and offsets.
  void ensure_transaction();
  bool commit_transaction_round();
  void abort_and_rewind(const std::string& why);
  void log_transaction_call(std::string_view call, rd_kafka_error_t* error);

  // Offsets and the group.
  using Positions = std::vector<std::pair<std::shared_ptr<PartitionState>, int64_t>>;
  void commit(bool synchronous);
  // Commits the partitions' positions once the dedup entries they depend on are durable: at
  // once with a store that writes synchronously, from send_durable_commits() otherwise.
  void commit_when_durable(const std::vector<std::shared_ptr<PartitionState>>& partitions);
  void send_durable_commits();
  static void merge_positions(Positions& into, Positions&& from);
  // On revocation: waits until the dedup entries are durable, then commits asynchronously.
  void commit_revoked(const std::vector<std::shared_ptr<PartitionState>>& partitions);
  static void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t error, rd_kafka_topic_partition_list_t* partitions,
                           void* opaque);
  static void on_offset_commit(rd_kafka_t* rk, rd_kafka_resp_err_t error, rd_kafka_topic_partition_list_t* offsets,
                               void* opaque);
  // A partition's state as first assigned (or rewound), with its metrics and tier looked up.
  std::shared_ptr<PartitionState> new_partition_state(const std::string& topic, int32_t partition);
  void on_assign(const rd_kafka_topic_partition_list_t& partitions);
  void on_revoke(const rd_kafka_topic_partition_list_t& partitions);
  void on_client_error(std::string_view client, rd_kafka_resp_err_t error, const std::string& reason, bool fatal);

  void update_gauges();
  void observe_periodically();
  // Adds what the HTTP clients counted since the last call to their counters.
  void report_http_stats();
  prometheus::Counter& outcome_counter(Outcome outcome, std::string_view reason);

  // Immutable after start.
  std::shared_ptr<const config::Config> config_;
  metrics::Metrics& metrics_;
  Router router_;
  int64_t producer_max_message_bytes_ = 1'000'000;
  std::vector<int> route_sink_;  // route index → sinks_ index (routes to one topic share a sink)
  std::vector<std::map<rd_kafka_resp_err_t, ErrorClass>> route_errors_;  // per-route overrides
  std::vector<std::map<std::string, ErrorClass>> route_http_errors_;       // "503" or "5xx" → class
  std::map<std::string, size_t, std::less<>> tier_of_topic_;            // retry tier topic → tier
  std::vector<std::string> tier_topics_;
  std::vector<prometheus::Counter*> tier_send_counters_;

  // Declaration order is destruction order in reverse: the clients go first (no callback
  // can run after that), then the sinks, the pool and every record in it.
  RecordPool pool_;
  std::unique_ptr<StageRunner> stage_runner_;
  // With pipeline.stage_thread; declared after the pool and the runner, so it is stopped
  // before either goes (and ~Engine stops it before the wake pipe closes).
  std::unique_ptr<StageThread> stage_thread_;
  std::vector<InFlightRecord*> to_stage_;  // processed records not yet handed to the thread
  std::vector<InFlightRecord*> staged_;    // taken back from the thread, to act on
  dedup::DedupStorePtr dedup_;

  std::map<std::pair<std::string, int32_t>, std::shared_ptr<PartitionState>, std::less<>> partitions_;
  // The partition of the last record consumed: a batch is mostly runs of one partition, and
  // the map lookup (a string built and compared per record) was a visible share of the
  // engine's time. Cleared whenever partitions_ changes; the topic handle cannot be freed
  // while its partition is assigned.
  struct LastPartition {
    const rd_kafka_topic_t* topic = nullptr;
    int32_t partition = -1;
    std::shared_ptr<PartitionState> state;
  } last_partition_;
  fingerprint::FingerprintMap<InFlightRecord*> fingerprint_owners_;
  std::vector<InFlightRecord*> dedup_queue_;
  std::vector<InFlightRecord*> dedup_round_;  // the records run_dedup is handling
  std::vector<fingerprint::Fingerprint> confirms_;
  std::vector<fingerprint::Fingerprint> releases_;
  std::vector<dedup::ReserveStatus> reserve_statuses_;
  std::vector<fingerprint::Fingerprint> reserve_keys_;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;
  uint64_t timer_sequence_ = 0;
  std::vector<rd_kafka_message_t*> batch_;
  int64_t in_flight_bytes_ = 0;
  // Mean value size of the last batch taken: sizes the next batch so that the byte budget is
  // overshot by about one record rather than one batch.
  int64_t recent_record_bytes_ = 0;
  // Too much in flight: no records are taken from the consumer queue. The partitions are
  // paused only when that lasts (see update_backpressure).
  bool backpressured_ = false;
  bool backpressure_paused_ = false;
  Clock::time_point backpressure_since_{};
  bool dedup_down_ = false;
  // Records with a timer to ask the dedup store again (it was unavailable or busy for them):
  // while dedup_down_, they are what finds out that the store is back.
  int64_t dedup_rechecks_scheduled_ = 0;
  bool consumer_may_have_more_ = true;
  std::map<std::pair<int, std::string>, prometheus::Counter*, std::less<>> outcome_counters_;
  // Per outcome, the counter of the reason seen last, keyed by the reason's address. Reasons
  // are static strings (outcome.h's constants, and StageResult's contract), so an address
  // always names the same reason; this skips building a map key per record.
  struct LastOutcomeCounter {
    const char* reason = nullptr;
    size_t size = 0;
    prometheus::Counter* counter = nullptr;
  };
  std::array<LastOutcomeCounter, kOutcomeCount> last_outcome_counter_{};
  struct DedupCounters {
    prometheus::Counter* hit = nullptr;
    prometheus::Counter* miss = nullptr;
    prometheus::Counter* busy = nullptr;
    prometheus::Counter* error = nullptr;
    prometheus::Counter* unchecked = nullptr;  // forwarded without the check (on_unavailable)
  } dedup_counters_;
  prometheus::Gauge* last_progress_gauge_ = nullptr;
  // Set by update_gauges() every loop round: looked up once (a lookup takes the family's lock).
  struct LoopGauges {
    prometheus::Gauge* in_flight_records = nullptr;
    prometheus::Gauge* in_flight_bytes = nullptr;
    prometheus::Gauge* paused_partitions = nullptr;
    prometheus::Gauge* assigned_partitions = nullptr;
  } loop_gauges_;
  prometheus::Histogram* dedup_histogram_ = nullptr;
  prometheus::Histogram* end_to_end_histogram_ = nullptr;

  // Exactly-once state (kafka.delivery: exactly_once).
  bool transactional_ = false;
  bool transaction_open_ = false;
  std::vector<fingerprint::Fingerprint> transaction_confirms_;  // confirmed once the commit succeeds
  kafka::GroupMetadataPtr group_metadata_;

  // Positions waiting for their dedup ticket to become durable, oldest first (a store with a
  // writer thread; empty otherwise).
  struct DeferredCommit {
    uint64_t ticket;
    Positions positions;
  };
  // While the store cannot write (e.g. Redis down), one entry would be added per commit
  // interval; beyond this many the newest entry absorbs the next (its ticket covers both).
  static constexpr size_t kMaxDeferredCommits = 8;
  std::deque<DeferredCommit> deferred_commits_;

  // Lifecycle.
  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> fatal_error_{false};
  bool stopping_ = false;
  // The clocks as read at the start of an iteration, of each consumed batch and of each
  // hand-over of HTTP responses: records taken or finished then are stamped with it rather
  // than each reading the clocks several times (about 50 ns per read here). A step takes well
  // under a millisecond at moderate rates and a few at full speed (a batch of 1 000 records):
  // outcome times and the latency histograms are that coarse.
  struct Now {
    Clock::time_point steady;
    int64_t epoch_ms = 0;
  } now_;
  bool in_round_poll_ = false;  // delivery reports come from iterate()'s non-blocking poll
  struct Delivery {
    InFlightRecord* record;
    rd_kafka_resp_err_t error;
  };
  std::vector<Delivery> deliveries_;  // collected by that poll, for settle_deliveries()
  Clock::time_point drain_deadline_;
  Clock::time_point next_commit_;
  Clock::time_point next_expire_;
  Clock::time_point next_tick_;
  LifecycleListener* lifecycle_ = nullptr;
  LifecycleListener no_listener_;
  bool joined_ = false;
  int64_t stalled_partitions_ = 0;
  int wake_read_fd_ = -1;
  int wake_write_fd_ = -1;
  std::map<rd_kafka_resp_err_t, Clock::time_point> last_error_log_;
  struct EventLogState {
    Clock::time_point last{};
    int64_t suppressed = 0;
  };
  std::map<std::string, EventLogState, std::less<>> event_log_;  // per reason

  // Responses of HTTP routes, handed over by the HTTP runtime's thread (declared before the
  // runtime, which may push into it until it is stopped).
  std::mutex http_responses_mutex_;
  std::vector<std::pair<int, http::Response>> http_responses_;
  std::vector<std::pair<int, http::Response>> http_responses_taken_;  // engine thread: being handled
  std::unique_ptr<http::HttpRuntime> http_runtime_;  // only when a route is HTTP; outlives the sinks

  std::vector<SinkSlot> sinks_;

  kafka::ClientContext consumer_context_;  // outlives consumer_
  kafka::HandlePtr consumer_;
  kafka::QueuePtr consumer_queue_;
  std::unique_ptr<kafka::Producer> producer_;
};

}  // namespace sluice::engine
