#pragma once
// The engine moves records from the inbound topics to their final outcome:
//
//   consume (batch) → CPU stages → route → fingerprint → dedup reserve (batch)
//     → destination (ordering gate, then a breaker permit at dispatch) → acknowledged
//     → dedup confirm → offset completes
//   bad data at any step → DLQ record (acknowledged) → offset completes
//   filtered → counted (or produced to rejected_topic, acknowledged) → offset completes
//   transient delivery failure → next retry tier (acknowledged) → offset completes;
//     after the last tier → DLQ with max_retries_exceeded
//   destination breaker not closed → the record waits in its destination and its partition
//     is paused (no retry or DLQ record is written because a destination is down)
//
// Retry tiers are consumed like inbound topics; a tier record that is not due yet is held and
// its partition paused until then, so other partitions keep flowing and polls continue.
//
// This class keeps the loop and each record's state machine (Step); the guarantees live in
// pieces it drives, each with tests of its own: the partition table (pauses), backpressure,
// the dedup coordinator, the destinations (breaker at dispatch, order through an outage),
// the retry tiers (trusted headers, bounded holds), the side-record builders (DLQ records
// that always fit), output order and the committers (offsets committed only up to the first
// unfinished record; with exactly-once, only together with every output of the records
// below). Kafka is reached only through ConsumerApi and ProducerApi, time only through
// EngineClock, so the whole engine runs against fakes.
//
// Threading: run() is the engine thread; everything here runs on it, including the
// consumer's and producer's callbacks (served from its polls), except the CPU stages: with
// pipeline.stage_thread they run on a stage thread (StageThread), which owns the records
// handed to it until the engine takes them back. librdkafka's threads, the HTTP thread and
// the stage thread only wake the engine through a pipe. request_stop() is the one entry
// point safe from any thread or signal handler.
//
// Stop: request_stop() → pause every partition, finish in-flight records until
// shutdown.drain_timeout, then in bounded steps: outputs still unacknowledged are given up,
// HTTP requests cancelled, dedup flushed, the final commit, the consumer closed. Records
// unfinished at the deadline are not committed: they are redelivered after the restart. A
// fatal error (a fenced producer) skips the drain: run() returns 1.

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"
#include "dedup/dedup_store.h"
#include "engine/backpressure.h"
#include "engine/clock.h"
#include "engine/committer.h"
#include "engine/connectivity.h"
#include "engine/dedup_coordinator.h"
#include "engine/destinations.h"
#include "engine/engine_probe.h"
#include "engine/in_flight_record.h"
#include "engine/lifecycle.h"
#include "engine/output_order.h"
#include "engine/parked_keys.h"
#include "engine/partition_table.h"
#include "engine/retry_tiers.h"
#include "engine/router.h"
#include "engine/side_records.h"
#include "engine/stage_runner.h"
#include "engine/stage_thread.h"
#include "engine/timer_queue.h"
#include "engine/watermark_poller.h"
#include "kafka/consumer_api.h"
#include "kafka/producer_api.h"
#include "metrics/metrics.h"
#include "stages/stage_chain.h"

namespace sluice::engine {

class Engine final : private DestinationEvents, private kafka::ConsumerListener {
 public:
  struct Parts {
    std::shared_ptr<const config::Config> config;
    std::unique_ptr<stages::StageChain> stage_chain;
    dedup::DedupStorePtr dedup;
    std::unique_ptr<kafka::ConsumerApi> consumer;
    std::unique_ptr<kafka::ProducerApi> producer;
    metrics::Metrics* metrics = nullptr;       // outlives the engine
    LifecycleListener* lifecycle = nullptr;    // optional; outlives the engine
    const EngineClock* clock = nullptr;        // optional (the system clocks); outlives the engine
    // Keep paused partitions' watermarks current from a thread of its own (off in tests that
    // drive the engine step by step).
    bool watch_paused_watermarks = true;
  };

  // Wires the parts together and subscribes; every problem is appended to `errors` (nullptr
  // returned).
  static std::unique_ptr<Engine> create(Parts parts, std::vector<std::string>& errors);
  ~Engine() override;

  // Consumes until stopped. Returns the process exit code (0 after a stop request, 1 after a
  // fatal error).
  int run();
  // Safe from any thread and from signal handlers.
  void request_stop();

  // run() in pieces, for tests that drive the engine without waiting: step() is one round
  // of the loop (false once it has stopped: drained, out of time, or fatal); finish() then
  // ends it as run() does and returns the exit code.
  bool step();
  int finish();
  int64_t live_records() const { return pool_.live(); }

 private:
  explicit Engine(Parts parts);
  bool start(std::vector<std::string>& errors);

  // ---- the loop (engine.cc)
  bool should_continue();
  void wait_for_events(std::chrono::milliseconds timeout);
  void iterate();
  void begin_stopping();
  std::chrono::milliseconds time_to_next_deadline() const;
  void refresh_now();
  void fire_due_timers();
  void run_commit(bool final);
  bool between_flushes();
  void observe_periodically();
  void publish_steps();
  void wake();

  // ---- /readyz and /status (engine_status.cc)
  // Tells the lifecycle listener when the connectivity verdict changed.
  void report_connectivity();
  // Asks the watermark poller to reach a broker while "all brokers down" waits for a contact
  // (an idle instance sees no records that would show the brokers back), and counts its
  // answers as contacts.
  void ping_brokers();
  // Builds the /status snapshot and hands it to the lifecycle listener.
  void publish_status();

  // ---- records (engine_records.cc)
  void consume_available();
  void note_queue_level(size_t count, size_t room);
  void handle_message(kafka::Message message);
  void process(InFlightRecord* record);
  void submit_to_stages();
  void collect_staged();
  void act_on_stages(InFlightRecord* record);
  void hold(InFlightRecord* record);
  void release_held(const std::shared_ptr<PartitionState>& partition);
  void run_dedup();
  void forward(InFlightRecord* record);
  void on_forward_delivered(InFlightRecord* record);
  void on_forward_failed(InFlightRecord* record, ErrorClass error_class, const std::string& error);
  // The record's final outcome, the one `reason` is for.
  void complete(InFlightRecord* record, Reason reason);
  void abandon(InFlightRecord* record);
  void give_up_reservation(InFlightRecord* record);
  void complete_duplicates(std::vector<InFlightRecord*>& duplicates);
  void update_backpressure();
  // Exactly-once: re-drives the records whose turn to produce has come (OutputOrder).
  void run_turns();
  // Takes up the step a record waited in (its turn, or a timer to try again), or gives it up
  // when its partition went away.
  void redrive(InFlightRecord* record);

  // ---- retry.ordering: key (engine_key_order.cc); only with parked_
  // At intake: the record's order partition and offset; a tier record joins its key. False for
  // a spare copy of a tier record another copy of which is live here (ParkedKeys::Read).
  bool track_key_order(InFlightRecord* record);
  // Before a record joins its destination: false when it was parked or dead-lettered instead.
  bool follow_key_order(InFlightRecord* record);
  // Sends a record of a parked key to its key's tier, behind the key's earlier records.
  void park(InFlightRecord* record);
  // A failed record goes to a tier (its retry record handed over): its key is parked, and the
  // records of its key queued behind it follow it.
  void key_to_tier(InFlightRecord* record);
  // A record of a parked key is dead-lettered for its own sake: with after_dead_letter:
  // dead_letter it leaves its key and its followers go to the DLQ too; with release they wait
  // in the tier until its DLQ record is written.
  void key_dead_lettered(InFlightRecord* record);
  void key_finished(InFlightRecord* record);
  // A record waits for an identical one (in flight here, or held by another instance in the
  // dedup store) while records of its key behind it would pass it: they park behind it.
  void hold_key_for_peer(InFlightRecord* record);
  // Takes the records of `record`'s key and order partition queued behind it in its gate.
  void take_followers(InFlightRecord* record, std::vector<InFlightRecord*>& out);
  void refuse_parking(const InFlightRecord& record, int64_t offset);
  // After an assignment: checks that every tier partition an input partition's order needs is
  // here, and reads each tier partition to its end (only to rebuild the parked keys) before the
  // input partitions with its number resume.
  void start_parking_scans(const std::vector<kafka::TopicPartition>& assigned);
  void set_scan_pauses(int32_t number);
  // Sets up the scans whose setup found no broker answer, once their retry is due.
  void retry_scan_setup();
  std::optional<bool> resets_to_earliest() const;
  // Whether a tier record was taken by a scan (or dropped as fetched before the re-read).
  bool scan_tier_record(PartitionState& partition, const kafka::Message& message);
  void end_scan(PartitionState& partition);

  // ---- outputs (engine_outputs.cc)
  void dead_letter(InFlightRecord* record, std::string_view stage, Reason reason, std::string detail);
  void start_dead_letter(InFlightRecord* record);
  void lower_dead_letter_level(InFlightRecord* record, DeadLetterLevel to);
  void start_reject(InFlightRecord* record);
  void start_retry(InFlightRecord* record);
  // Hands an output to the producer (after the committer and output order allow it).
  rd_kafka_resp_err_t produce_for(InFlightRecord* record, kafka::OutboundRecord& out, const char* destination);
  // Whether `record` may produce now; if not it is re-driven by run_turns() when it may.
  bool may_produce(InFlightRecord* record);
  void try_again_later(InFlightRecord* record, rd_kafka_resp_err_t error);
  void refuse_output(InFlightRecord* record, std::string_view stage, const std::string& topic, rd_kafka_resp_err_t error);
  void on_delivery(void* opaque, rd_kafka_resp_err_t error);
  void settle_deliveries();
  void drain_http_responses();
  void on_http_response(int destination, const http::Response& response);
  void on_batch_response(Destination& destination, uint64_t batch, const http::Response& response);
  void on_destination_result(InFlightRecord* record, Destination::Result result, const std::string& error,
                             std::optional<std::chrono::milliseconds> retry_after);
  // Acts on what the destination made of a forward's result.
  void settle_forward(InFlightRecord* record, Destination::Verdict verdict, const std::string& error);

  // ---- the group (engine_group.cc)
  void on_assigned(const std::vector<kafka::TopicPartition>& partitions) override;
  void on_revoked(const std::vector<kafka::TopicPartition>& partitions, bool lost) override;
  void on_commit_result(rd_kafka_resp_err_t error, const std::vector<kafka::PartitionOffset>& offsets) override;
  void on_client_error(rd_kafka_resp_err_t error, const std::string& reason, bool fatal) override;
  // Any client's error: a fatal one stops the engine; the others are counted and logged.
  void client_error(std::string_view client, rd_kafka_resp_err_t error, const std::string& reason, bool fatal);
  std::shared_ptr<PartitionState> new_partition_state(const std::string& topic, int32_t partition);
  void drain_revoked(const std::vector<std::shared_ptr<PartitionState>>& revoked);
  void drop_partitions(const std::vector<std::shared_ptr<PartitionState>>& revoked);
  // Exactly-once after an abort: every partition starts over from its committed offset.
  void rewind();
  void act_on_commit(Committer::Result result);
  void stop_in_bounded_steps();

  // ---- DestinationEvents (engine_outputs.cc)
  void on_dispatched(InFlightRecord& record) override;
  void on_refused(InFlightRecord& record, const std::string& error) override;
  void wake_destination_at(int destination, std::chrono::steady_clock::time_point when) override;
  void hold_for_outage(PartitionState& partition, bool held) override;
  void on_breaker_transition(int destination, BreakerState from, BreakerState to) override;
  void on_rate_limited(InFlightRecord& record) override;
  void on_batch_sent(int destination, const Batch& batch) override;
  void on_batch_split(int destination) override;

  // Immutable after start.
  std::shared_ptr<const config::Config> config_;
  metrics::Metrics& metrics_;
  SystemClock system_clock_;
  const EngineClock& clock_;
  Router router_;
  RetryTiers tiers_;
  DeadLetterSettings dead_letter_settings_;
  LifecycleListener no_listener_;
  LifecycleListener* lifecycle_;
  const bool watch_paused_watermarks_;

  // The clocks as read at the start of an iteration, of each consumed batch and of each
  // hand-over of HTTP responses: records taken or finished then are stamped with it rather
  // than each reading the clocks several times (about 50 ns per read here). A step takes well
  // under a millisecond at moderate rates and a few at full speed (a batch of 1 000 records):
  // outcome times, the latency histograms and the time per step are that coarse.
  struct Now {
    std::chrono::steady_clock::time_point steady;
    int64_t epoch_ms = 0;
  } now_;
  // Records by step and the time spent in each (read from now_.steady), published as metrics
  // every kStepInterval.
  StepLedger steps_{now_.steady};

  // Declaration order is destruction order in reverse: the clients go first (no callback
  // can run after that), then the destinations, the pool and every record in it.
  RecordPool pool_{&steps_};
  std::unique_ptr<StageRunner> stage_runner_;
  // With pipeline.stage_thread; declared after the pool and the runner, so it is stopped
  // before either goes (and ~Engine stops it before the wake pipe closes).
  std::unique_ptr<StageThread> stage_thread_;
  std::vector<InFlightRecord*> to_stage_;  // processed records not yet handed to the thread
  std::vector<InFlightRecord*> staged_;    // taken back from the thread, to act on
  dedup::DedupStorePtr dedup_store_;
  EngineProbe probe_;
  Connectivity connectivity_;
  std::optional<Connectivity::Verdict> connectivity_reported_;  // the last verdict told
  uint64_t poller_answers_seen_ = 0;
  StatusSnapshot status_;  // reused by publish_status()
  TimerQueue timers_;
  Backpressure backpressure_;
  OutputOrder output_order_;
  std::vector<InFlightRecord*> turns_;        // records whose turn came (exactly-once), to re-drive
  std::vector<InFlightRecord*> turns_taken_;  // being re-driven by run_turns()
  std::vector<kafka::Message> batch_;
  std::vector<DedupCoordinator::Answer> dedup_answers_;
  int64_t in_flight_bytes_ = 0;
  bool consumer_may_have_more_ = true;
  // A poll since the queue was last drained took all it had room for (note_queue_level).
  bool queue_was_ahead_ = false;

  bool in_round_poll_ = false;  // delivery reports come from iterate()'s non-blocking poll
  struct Delivery {
    InFlightRecord* record;
    rd_kafka_resp_err_t error;
  };
  std::vector<Delivery> deliveries_;  // collected by that poll, for settle_deliveries()
  std::vector<std::pair<int, http::Response>> http_responses_;  // engine thread: being handled
  Destination::BatchVerdicts batch_verdicts_;                    // engine thread: a batch's answer

  // Lifecycle.
  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> fatal_error_{false};
  bool stopping_ = false;
  bool finished_ = false;
  std::chrono::steady_clock::time_point drain_deadline_;
  std::chrono::steady_clock::time_point next_commit_;
  std::chrono::steady_clock::time_point next_expire_;
  std::chrono::steady_clock::time_point next_tick_;
  std::chrono::steady_clock::time_point next_gauges_;
  std::chrono::steady_clock::time_point next_steps_;
  bool joined_ = false;
  int64_t stalled_partitions_ = 0;
  int wake_read_fd_ = -1;
  int wake_write_fd_ = -1;

  std::unique_ptr<kafka::ProducerApi> producer_;
  std::unique_ptr<kafka::ConsumerApi> consumer_;
  std::unique_ptr<PartitionTable> partitions_;
  std::unique_ptr<DedupCoordinator> dedup_;
  std::unique_ptr<Destinations> destinations_;
  std::unique_ptr<ParkedKeys> parked_;  // retry.ordering: key only
  std::vector<kafka::TopicPartition> scans_to_set_up_;  // paused until their scan is set up
  std::chrono::steady_clock::time_point scans_set_up_at_;
  std::unique_ptr<Committer> committer_;
  std::unique_ptr<WatermarkPoller> watermark_poller_;  // declared last: stopped first
};

}  // namespace sluice::engine
