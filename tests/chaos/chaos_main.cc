// sluice-chaos: proves that no message is lost while everything around sluice misbehaves.
// (With --scale-out it runs the scale-out run of chaos/scale_out.h instead.)
//
// It starts a private dev broker (two brokers: the downstream topic's partitions on broker
// 2, everything else on broker 1), a flapping HTTP endpoint, Redis when asked for, and sluice
// with a topic route (email) and an HTTP route (WhatsApp). It feeds the realistic mix in
// slices while it kills sluice with SIGKILL at random moments and restarts it, injects broker
// faults (failed and slow requests, brokers going away, forced rebalances), makes the HTTP
// endpoint answer 503, hang or refuse connections for periods, and restarts Redis. Then it
// lets everything recover, waits until the group has committed every inbound and retry-tier
// record, stops sluice with SIGTERM and accounts for every input record (chaos/accounting.h).
//
// Everything runs on the main thread, as one loop over timed events drawn from a seeded
// generator; child processes are started only from this thread (they die with it).
// Exit status: 0 when nothing was lost and every check passed, 1 otherwise, 2 for usage.

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "chaos/accounting.h"
#include "chaos/chaos_summary.h"
#include "chaos/flapping_sink.h"
#include "chaos/options.h"
#include "chaos/random.h"
#include "chaos/report.h"
#include "chaos/scale_out.h"
#include "chaos/topology.h"
#include "devtools/kafka_tools.h"
#include "devtools/message_mix.h"
#include "support/dev_broker.h"
#include "support/http_get.h"
#include "support/process.h"
#include "support/redis_server.h"
#include "support/sluice_daemon.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace sluice::chaos {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Millis = std::chrono::milliseconds;
using devtools::KafkaRecord;
using devtools::MixRecord;

// ---------------------------------------------------------------------------------------
// The run

struct PlannedKill {
  int after_slice = 0;  // once this many slices were produced
  Millis delay{0};      // ...this long after that
  Millis min_uptime{0};  // and the daemon ran at least this long
  std::optional<Clock::time_point> at;
};

// A broker fault that lasts: undone by `clear_command` at `until`.
struct TimedFault {
  std::string clear_command;
  Clock::time_point until;
  bool main_broker_down = false;  // broker 1 (inbound, group coordinator, tiers, DLQ) is down
};

class ChaosRun {
 public:
  ChaosRun(const Options& options, uint64_t seed)
      : options_(options), random_(seed), started_(Clock::now()),
        deadline_(started_ + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(options.max_minutes * 60))) {
    summary_.seed = seed;
    summary_.options = options;
  }

  Summary run();

 private:
  double elapsed() const { return std::chrono::duration<double>(Clock::now() - started_).count(); }
  bool past_deadline() const { return Clock::now() >= deadline_; }
  void control(const std::string& command) { broker_->control(command); }
  void count_fault(const std::string& kind) { summary_.faults[kind] += 1; }

  void set_up();
  void plan();
  void chaos_phase();
  void recovery_phase();
  void verify();

  // The actors of the chaos phase; each acts when its time has come.
  void step_production(Clock::time_point now);
  void step_daemon(Clock::time_point now);
  void step_http(Clock::time_point now);
  void step_broker(Clock::time_point now);
  void step_redis(Clock::time_point now);
  void refresh_progress(Clock::time_point now);
  void print_progress(Clock::time_point now);
  void report_stall(Clock::time_point now);
  void produce_slice(Clock::time_point now);

  void start_daemon();
  void check_daemon_alive();
  bool caught_up();

  Options options_;
  Random random_;
  Clock::time_point started_;
  Clock::time_point deadline_;
  Summary summary_;

  std::vector<MixRecord> mix_;
  Topology topology_;
  std::unique_ptr<test::DevBroker> broker_;
  std::unique_ptr<test::RedisServer> redis_;
  std::unique_ptr<FlappingSink> sink_;
  std::unique_ptr<test::TempDir> dir_;
  std::unique_ptr<test::SluiceDaemon> daemon_;
  std::unique_ptr<devtools::RecordProducer> producer_;
  // Broker 1 only, for the progress queries of the chaos phase: they need the group
  // coordinator alone, and do not fill stderr with refused connections while broker 2 is down.
  std::string query_bootstrap_;

  // Production, in slices paced over the planned active time and held back while sluice
  // is more than four slices behind.
  int slices_ = 0;
  size_t slice_size_ = 0;
  Millis slice_interval_{0};
  int slices_done_ = 0;
  size_t produced_ = 0;
  Clock::time_point next_slice_at_;
  int64_t committed_ = 0;
  Clock::time_point committed_changed_at_;
  Clock::time_point next_stall_report_;
  Clock::time_point next_progress_query_;
  Clock::time_point next_progress_print_;

  // The daemon.
  std::vector<PlannedKill> kills_;  // in order of after_slice
  bool daemon_up_ = false;
  Clock::time_point daemon_started_at_;
  std::optional<Clock::time_point> restart_at_;
  Clock::time_point next_liveness_check_;

  // Faults.
  std::unique_ptr<SinkFlapper> flapper_;
  std::optional<TimedFault> broker_fault_;
  Clock::time_point next_broker_fault_;
  bool redis_down_ = false;
  Clock::time_point next_redis_event_;
  std::string broker_state_ = "-";
};

void ChaosRun::set_up() {
  devtools::MixOptions mix_options;
  mix_options.count = options_.messages;
  mix_options.seed = summary_.seed;
  mix_ = devtools::make_mix(mix_options);
  topology_ = plan_topology(mix_);

  broker_ = start_broker(topology_);
  if (options_.dedup == "redis") redis_ = std::make_unique<test::RedisServer>();
  // The route's timeout is 1s; a hanging request is answered after 1.5s, too late.
  sink_ = std::make_unique<FlappingSink>(1500ms);
  dir_ = std::make_unique<test::TempDir>();

  test::TestConfig config = chaos_config(broker_->bootstrap(), topology_, sink_->url());
  config.dedup_backend = options_.dedup;
  if (redis_) config.redis_url = redis_->url();
  daemon_ = std::make_unique<test::SluiceDaemon>(config, *dir_);
  producer_ = std::make_unique<devtools::RecordProducer>(broker_->bootstrap());
  query_bootstrap_ = broker_->bootstrap().substr(0, broker_->bootstrap().find(','));
}

void ChaosRun::plan() {
  slices_ = std::clamp(options_.messages / 250, 12, 200);
  slice_size_ = (mix_.size() + static_cast<size_t>(slices_) - 1) / static_cast<size_t>(slices_);
  // The planned length of the chaos phase: long enough for several periods of every fault.
  double active_seconds = 30 + options_.messages / 1000.0;
  slice_interval_ = Millis(static_cast<int64_t>(active_seconds * 1000 / slices_));
  for (int i = 0; i < options_.kills; ++i) {
    PlannedKill kill;
    kill.after_slice = random_.between(1, slices_);
    kill.delay = random_.between(0ms, slice_interval_ * 3 / 2);
    kill.min_uptime = random_.between(500ms, 3000ms);
    kills_.push_back(kill);
  }
  std::sort(kills_.begin(), kills_.end(),
            [](const PlannedKill& a, const PlannedKill& b) { return a.after_slice < b.after_slice; });
  Clock::time_point now = Clock::now();
  next_slice_at_ = now;
  flapper_ = std::make_unique<SinkFlapper>(*sink_, random_, now);
  next_broker_fault_ = now + random_.between(1000ms, 3000ms);
  next_redis_event_ = now + random_.between(3000ms, 8000ms);
  next_progress_query_ = now;
  committed_changed_at_ = now;
  next_stall_report_ = now;
  next_progress_print_ = now + 5s;
  next_liveness_check_ = now;
}

void ChaosRun::start_daemon() {
  daemon_->start();
  daemon_up_ = true;
  daemon_started_at_ = Clock::now();
  restart_at_.reset();
}

// A daemon that ended by itself (not killed by us) is restarted at once, as a supervisor
// would, and reported: exit status 1 is its documented answer to a fatal client error; a
// signal would be a crash.
void ChaosRun::check_daemon_alive() {
  if (!daemon_up_ || daemon_->running()) return;
  int status = daemon_->stop(1s);
  std::string note = "exit status " + std::to_string(status) + " at " + std::to_string(static_cast<int>(elapsed())) + "s";
  std::cout << "  sluice ended by itself: " << note << "; restarting it\n";
  // The log is kept across restarts, so its end now is this instance's last words: a crash's
  // cause is there, and the run's final tail would show only the instances after it.
  if (status != 1) {
    std::cerr << "---- the last lines of sluice's log before it ended ----\n" << log_tail(daemon_->logs(), 30) << "\n----\n";
  }
  summary_.unexpected_exits.push_back(note);
  start_daemon();
}

void ChaosRun::refresh_progress(Clock::time_point now) {
  // Skipped while broker 1 is down: the query would only wait for its timeout.
  if (now < next_progress_query_ || (broker_fault_ && broker_fault_->main_broker_down)) return;
  next_progress_query_ = now + 1s;
  try {
    int64_t total = 0;
    for (const std::string& topic : topology_.inbound) {
      for (const auto& [partition, offset] :
           devtools::committed_offsets(query_bootstrap_, kGroup, topic, topology_.partitions.at(topic))) {
        total += offset;
      }
    }
    if (total != committed_) committed_changed_at_ = now;
    committed_ = total;
    if (static_cast<int64_t>(produced_) > committed_) {
      summary_.longest_stall_seconds = std::max(summary_.longest_stall_seconds,
                                                std::chrono::duration<double>(now - committed_changed_at_).count());
    }
  } catch (const std::exception&) {
    // The broker is busy with an injected fault; the next query will tell.
  }
}

// No committed progress for a while although records are waiting: shows the daemon's view
// (breakers, pauses, in-flight records) to tell an injected outage from a stuck daemon.
void ChaosRun::report_stall(Clock::time_point now) {
  if (now - committed_changed_at_ < 20s || now < next_stall_report_ || !daemon_up_ ||
      static_cast<int64_t>(produced_) <= committed_) {
    return;
  }
  next_stall_report_ = now + 20s;
  test::HttpGetResult metrics;
  try {
    metrics = test::http_get("127.0.0.1", daemon_->admin_port(), "/metrics");
  } catch (const std::exception&) {
    // Not listening yet: the body stays empty.
  }
  std::printf("  no committed progress for %.0fs; sluice reports:\n",
              std::chrono::duration<double>(now - committed_changed_at_).count());
  std::istringstream lines(metrics.body);
  for (std::string line; std::getline(lines, line);) {
    for (const char* name : {"sluice_breaker_state", "sluice_breaker_waiting_records", "sluice_consumer_paused_partitions",
                             "sluice_consumer_assigned_partitions", "sluice_pipeline_in_flight_records",
                             "sluice_pipeline_stalled_partitions", "sluice_pipeline_oldest_unfinished"}) {
      if (line.rfind(name, 0) == 0) std::printf("    %s\n", line.c_str());
    }
  }
  std::fflush(stdout);
}

void ChaosRun::print_progress(Clock::time_point now) {
  report_stall(now);
  if (now < next_progress_print_) return;
  next_progress_print_ = now + (options_.messages > 20000 ? 10s : 5s);
  std::printf("  %5.0fs produced %zu/%zu, committed %lld, kills %d/%d, http %s, broker %s%s\n", elapsed(), produced_,
              mix_.size(), static_cast<long long>(committed_), summary_.kills, options_.kills,
              sink_mode_name(sink_->mode()), broker_state_.c_str(),
              redis_ ? (redis_down_ ? ", redis down" : ", redis up") : "");
  std::fflush(stdout);
}

void ChaosRun::step_production(Clock::time_point now) {
  if (slices_done_ >= slices_ || now < next_slice_at_) return;
  if (broker_fault_ && broker_fault_->main_broker_down) return;
  if (static_cast<int64_t>(produced_) - committed_ > static_cast<int64_t>(4 * slice_size_)) return;
  produce_slice(now);
}

void ChaosRun::produce_slice(Clock::time_point now) {
  size_t end = std::min(mix_.size(), produced_ + slice_size_);
  for (size_t i = produced_; i < end; ++i) producer_->produce(mix_[i].record);
  producer_->flush();
  produced_ = end;
  slices_done_ += 1;
  next_slice_at_ = now + slice_interval_;
}

void ChaosRun::step_daemon(Clock::time_point now) {
  if (now >= next_liveness_check_) {
    next_liveness_check_ = now + 200ms;
    check_daemon_alive();
  }
  if (!daemon_up_ && restart_at_ && now >= *restart_at_) start_daemon();
  if (kills_.empty()) return;
  PlannedKill& kill = kills_.front();
  if (!kill.at && slices_done_ >= kill.after_slice) kill.at = now + kill.delay;
  if (!kill.at || now < *kill.at || !daemon_up_ || now - daemon_started_at_ < kill.min_uptime) return;
  daemon_->kill9();
  daemon_up_ = false;
  summary_.kills += 1;
  restart_at_ = now + random_.between(100ms, 1500ms);
  kills_.erase(kills_.begin());
}

void ChaosRun::step_http(Clock::time_point now) {
  std::string fault = flapper_->step(now);
  if (!fault.empty()) count_fault(fault);
}

void ChaosRun::step_broker(Clock::time_point now) {
  if (broker_fault_) {
    if (now < broker_fault_->until) return;
    control(broker_fault_->clear_command);
    broker_fault_.reset();
    broker_state_ = "-";
    next_broker_fault_ = now + random_.between(1500ms, 5000ms);
    return;
  }
  if (now < next_broker_fault_) return;
  auto repeat = [](const std::string& command, int times) {
    std::string line = command;
    for (int i = 1; i < times; ++i) line += command.substr(command.rfind(' '));
    return line;
  };
  // A fault that is undone after a while, one at a time: a broker down and up again, the
  // brokers slow and fast again.
  auto timed_fault = [&](const std::string& command, const char* undo, std::chrono::milliseconds shortest,
                         std::chrono::milliseconds longest, bool main_broker_down, std::string state, const char* label) {
    control(command);
    broker_fault_ = TimedFault{undo, now + random_.between(shortest, longest), main_broker_down};
    broker_state_ = std::move(state);
    count_fault(label);
  };
  // Weights: sink produce errors, sink broker down, main broker down, slow brokers,
  // retriable produce errors, fetch errors, commit errors, forced rebalance.
  switch (random_.pick({2, 2, 1, 2, 2, 2, 2, 1})) {
    case 0: {
      // Errors librdkafka does not retry itself and sluice takes as transient: the breaker
      // and the retry tiers of the topic route. Few at a time: while the breaker is open,
      // only its probe (one a second) takes one off the broker's queue.
      int times = random_.between(1, 3);
      for (int i = 0; i < times; ++i) control("berr 2 Produce POLICY_VIOLATION 0");
      count_fault("sink produce error (POLICY_VIOLATION)");
      break;
    }
    case 1:
      timed_fault("down 2", "up 2", 1000ms, 5000ms, false, "2 down", "sink broker down");
      break;
    case 2:
      timed_fault("down 1", "up 1", 500ms, 2000ms, true, "1 down", "main broker down");
      break;
    case 3: {
      const std::string rtt = std::to_string(random_.between(20, 200));
      timed_fault("rtt -1 " + rtt, "rtt -1 0", 1000ms, 4000ms, false, "rtt " + rtt + "ms", "slow brokers");
      break;
    }
    case 4:
      control(repeat("err Produce NOT_ENOUGH_REPLICAS", random_.between(1, 5)));
      count_fault("produce request errors (retriable)");
      break;
    case 5:
      control(repeat("err Fetch NOT_LEADER_FOR_PARTITION", random_.between(1, 4)));
      count_fault("fetch request errors");
      break;
    case 6:
      control(repeat("err OffsetCommit COORDINATOR_NOT_AVAILABLE", random_.between(1, 3)));
      count_fault("offset commit errors");
      break;
    case 7:
      control("err Heartbeat REBALANCE_IN_PROGRESS");
      count_fault("forced rebalance");
      break;
  }
  if (!broker_fault_) next_broker_fault_ = now + random_.between(1500ms, 5000ms);
}

void ChaosRun::step_redis(Clock::time_point now) {
  if (!redis_ || now < next_redis_event_) return;
  if (!redis_down_) {
    redis_->stop();
    redis_down_ = true;
    count_fault("redis restart");
    next_redis_event_ = now + random_.between(500ms, 2500ms);
  } else {
    redis_->start();  // empty: every fingerprint it held is gone
    redis_down_ = false;
    next_redis_event_ = now + random_.between(4000ms, 10000ms);
  }
}

void ChaosRun::chaos_phase() {
  std::printf("chaos phase: %d slices of %zu records every ~%lldms, %d kills planned\n", slices_, slice_size_,
              static_cast<long long>(slice_interval_.count()), options_.kills);
  start_daemon();
  // Half of the time limit for the chaos, the rest for recovery and the accounting.
  const Clock::time_point chaos_deadline = started_ + (deadline_ - started_) / 2;
  while (!past_deadline()) {
    Clock::time_point now = Clock::now();
    step_daemon(now);
    refresh_progress(now);
    step_production(now);
    step_http(now);
    step_broker(now);
    step_redis(now);
    print_progress(now);
    if (slices_done_ >= slices_ && kills_.empty() && daemon_up_) break;
    if (now >= chaos_deadline) {
      std::printf("chaos phase cut short at %.0fs: half of --max-minutes is over\n", elapsed());
      break;
    }
    // Every actor's next event is a point in time; the loop looks again a tick later.
    std::this_thread::sleep_until(now + 20ms);
  }
  summary_.active_seconds = elapsed();
}

bool ChaosRun::caught_up() { return group_caught_up(broker_->bootstrap(), topology_); }

void ChaosRun::recovery_phase() {
  std::printf("recovery: every fault cleared at %.0fs; waiting for the group to commit everything\n", elapsed());
  std::fflush(stdout);
  if (broker_fault_) control(broker_fault_->clear_command);
  broker_fault_.reset();
  broker_state_ = "-";
  control("up -1");
  control("rtt -1 0");
  for (const char* api : {"Produce", "Fetch", "OffsetCommit", "Heartbeat"}) control(std::string("clearerr ") + api);
  sink_->set_mode(SinkMode::Ok);
  if (redis_ && redis_down_) {
    redis_->start();
    redis_down_ = false;
  }
  if (!daemon_up_) start_daemon();
  // What the chaos phase did not get to produce.
  while (slices_done_ < slices_) produce_slice(Clock::now());
  Clock::time_point recovery_started = Clock::now();
  // Caught up twice in a row, a second apart: nothing was still on its way into a tier.
  int in_a_row = 0;
  bool drained = test::wait_until([&] {
    check_daemon_alive();
    Clock::time_point now = Clock::now();
    refresh_progress(now);
    print_progress(now);
    in_a_row = caught_up() ? in_a_row + 1 : 0;
    return in_a_row >= 2;
  }, std::chrono::duration_cast<Millis>(std::max(deadline_ - Clock::now(), Clock::duration(0))), 1000ms);
  summary_.recovery_seconds = std::chrono::duration<double>(Clock::now() - recovery_started).count();
  summary_.checks.push_back({"the group committed every inbound and retry-tier record", drained,
                             drained ? "" : "not within --max-minutes"});
  int status = daemon_->stop();
  daemon_up_ = false;
  summary_.checks.push_back({"sluice drained and exited 0 on SIGTERM", status == 0, "exit status " + std::to_string(status)});
}

void ChaosRun::verify() {
  Collected collected = collect(broker_->bootstrap(), topology_, *sink_);
  const RunOutputs& outputs = collected.outputs;
  summary_.http_requests = sink_->requests_seen();
  summary_.http_deliveries = outputs.http.size();
  summary_.tier_records = collected.tier_records;
  summary_.checks.push_back({"the broker kept every record (nothing evicted)", collected.evicted.empty(), collected.evicted});
  summary_.checks.push_back({"the inbound topics hold exactly the records produced", collected.inbound.size() == mix_.size(),
                             std::to_string(collected.inbound.size()) + " of " + std::to_string(mix_.size())});

  summary_.accounting = account(mix_, outputs);
  const Accounting& accounting = summary_.accounting;
  std::string lost;
  for (const std::string& key : accounting.lost_examples) lost += key + "; ";
  summary_.checks.push_back({"no record lost", accounting.lost() == 0, lost});
  for (const auto& [kind, problem] : accounting.problems) {
    summary_.checks.push_back({kind, false, std::to_string(problem.count) + "x, e.g. " + problem.example});
  }
  summary_.checks.push_back({"kill -9 at least --kills times", summary_.kills >= options_.kills,
                             std::to_string(summary_.kills) + " kills"});
  // A crash of the daemon (a signal, or a sanitizer report in a sanitized build) fails the
  // run; an exit with status 1 on a fatal client error is how it asks to be restarted.
  std::string logs = daemon_->logs();
  std::string crashes = crashes_in(summary_.unexpected_exits, logs);
  summary_.checks.push_back({"sluice never crashed", crashes.empty(), crashes});
  if (!summary_.passed()) {
    // The end of sluice's log, to start the investigation from.
    std::cerr << "---- the last lines of sluice's log (SLUICE_KEEP_TEST_DIRS=1 keeps every file) ----\n"
              << log_tail(logs, 40) << "\n----\n";
  }
}

Summary ChaosRun::run() {
  std::printf("sluice chaos run: seed %llu, %d messages, %d kills, dedup %s\n",
              static_cast<unsigned long long>(summary_.seed), options_.messages, options_.kills, options_.dedup.c_str());
  std::fflush(stdout);
  set_up();
  plan();
  std::printf("topics:%s\n", layout(topology_).c_str());
  chaos_phase();
  recovery_phase();
  verify();
  summary_.seconds = elapsed();
  if (past_deadline()) summary_.checks.push_back({"finished within --max-minutes", false, ""});
  return summary_;
}

}  // namespace
}  // namespace sluice::chaos

int main(int argc, char** argv) {
  using namespace sluice::chaos;
  std::string error;
  std::optional<Options> options = parse_options(argc, argv, &error);
  if (!options) {
    std::cerr << "sluice-chaos: " << error << "\n" << kUsage;
    return 2;
  }
  uint64_t seed = options->seed.value_or(std::random_device{}());
  try {
    RunReport report;
    if (options->scale_out) {
      report = run_scale_out(*options, seed);
    } else {
      ChaosRun run(*options, seed);
      Summary summary = run.run();
      report = {render_text(summary), render_json(summary), summary.passed()};
    }
    std::cout << report.text;
    if (!options->report_json.empty()) {
      std::ofstream file(options->report_json);
      file << report.json;
      if (!file) {
        std::cerr << "sluice-chaos: cannot write " << options->report_json << "\n";
        return 1;
      }
    }
    return report.passed ? 0 : 1;
  } catch (const std::exception& e) {
    // A harness failure (a broker that would not start, a refused control command): the
    // run proves nothing, so it fails.
    std::cerr << "sluice-chaos: run aborted (seed " << seed << "): " << e.what() << "\n";
    return 1;
  }
}
