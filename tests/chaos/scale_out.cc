#include "chaos/scale_out.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "chaos/accounting.h"
#include "chaos/flapping_sink.h"
#include "chaos/order_check.h"
#include "chaos/random.h"
#include "chaos/scale_out_result.h"
#include "chaos/topology.h"
#include "devtools/kafka_tools.h"
#include "devtools/message_mix.h"
#include "support/dev_broker.h"
#include "support/http_get.h"
#include "support/redis_server.h"
#include "support/sluice_daemon.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace sluice::chaos {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Millis = std::chrono::milliseconds;

constexpr int kKeys = 50;
constexpr Millis kSliceInterval = 250ms;
constexpr Millis kReadyTimeout = 180s;   // a replacement that is not ready by then fails the run
constexpr Millis kExitTimeout = 90s;     // SIGTERM to exit; the drain timeout is 25 s

double seconds(Clock::duration duration) { return std::chrono::duration<double>(duration).count(); }

// A counter summed over every "final counters" line of a log (one per run that stopped).
size_t counter_over_runs(const std::string& logs, const std::string& name) {
  double total = 0;
  for (size_t end = logs.find("\"msg\":\"final counters\""); end != std::string::npos;
       end = logs.find("\"msg\":\"final counters\"", end + 1)) {
    size_t line_end = logs.find('\n', end);
    total += std::max(0.0, test::final_counter(logs.substr(0, line_end), name));
  }
  return static_cast<size_t>(total);
}

enum class State { Down, Starting, Ready, Stopping };

struct Instance {
  std::string name;
  std::unique_ptr<test::SluiceDaemon> daemon;
  State state = State::Down;
  size_t log_offset = 0;  // where the current start's lines begin in its log
  std::optional<uint16_t> port;
  Clock::time_point started_at;
  Clock::time_point next_probe;
};

// One step of the operator: a graceful restart or a kill -9 and restart, and how it went.
struct Action {
  enum class Kind { Restart, Kill } kind = Kind::Restart;
  size_t instance = 0;
  Millis restart_delay{0};  // kill: from the kill to the start of the replacement
  std::optional<Clock::time_point> began;
  std::optional<Clock::time_point> exited;  // restart: the exit; kill: the kill
  std::optional<Clock::time_point> ready;   // the replacement's /readyz answered 200
  std::optional<int> exit_status;           // restart: the status after SIGTERM
};

class ScaleOutRun {
 public:
  ScaleOutRun(const Options& options, uint64_t seed)
      : options_(options), seed_(seed), random_(seed), started_(Clock::now()),
        deadline_(started_ + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(options.max_minutes * 60))) {}

  RunReport run();

 private:
  double elapsed() const { return seconds(Clock::now() - started_); }
  void set_up();
  void operate();
  void recover();
  void stop_all();
  void verify();
  RunReport report();

  void start(Instance& instance);
  void probe(Instance& instance, Clock::time_point now);
  void check_alive(Instance& instance);
  bool all_ready() const;
  void step_operator(Clock::time_point now);
  void begin(Action& action, Clock::time_point now);
  void step_production(Clock::time_point now);
  void step_faults(Clock::time_point now);
  void print_progress(Clock::time_point now);
  void produce(size_t count);

  Options options_;
  uint64_t seed_;
  Random random_;
  Clock::time_point started_;
  Clock::time_point deadline_;

  std::vector<devtools::MixRecord> mix_;
  Topology topology_;
  std::unique_ptr<test::DevBroker> broker_;
  std::unique_ptr<test::RedisServer> redis_;
  std::unique_ptr<FlappingSink> sink_;
  std::unique_ptr<SinkFlapper> flapper_;
  std::unique_ptr<test::TempDir> dir_;
  std::vector<Instance> instances_;
  std::unique_ptr<devtools::RecordProducer> producer_;

  // Production: steady, spread over the operator's expected time (re-estimated after each
  // action), the last tenth after it is done.
  size_t produced_ = 0;
  Clock::time_point next_slice_at_;
  Millis action_gap_{0};        // the pause before each action, on top of 1–4 s
  double action_seconds_ = 15;  // the expected length of one action (with its pause)
  std::optional<Clock::time_point> operator_done_at_;

  std::vector<Action> actions_;
  size_t next_action_ = 0;
  std::optional<Clock::time_point> next_action_at_;
  std::optional<Clock::time_point> last_action_done_;
  Clock::time_point next_produce_error_;
  Clock::time_point next_progress_;

  // Results.
  std::vector<KillMark> kill_marks_;
  std::vector<RunEvent> events_;
  ScaleOutResult result_;
};

void ScaleOutRun::set_up() {
  devtools::MixOptions mix_options;
  mix_options.count = options_.messages;
  mix_options.seed = seed_;
  mix_ = devtools::make_mix(mix_options);
  // Many records per key: the key is a record's stream; its id stays in the test-id header.
  for (devtools::MixRecord& entry : mix_) entry.record.key = "key-" + std::to_string(random_.between(0, kKeys - 1));
  // At least two partitions of each inbound topic per instance; as many in each tier topic
  // (retry.ordering key keeps a key's records in the same partition number through the tiers).
  topology_ = plan_topology(mix_, 2 * options_.instances, true);
  broker_ = start_broker(topology_);
  redis_ = std::make_unique<test::RedisServer>();
  sink_ = std::make_unique<FlappingSink>(1500ms);  // the route's timeout is 1 s
  dir_ = std::make_unique<test::TempDir>();

  // Both routes keep each key's order: the topic route sends one record of a key at a time,
  // so a failed one was not overtaken already.
  test::TestConfig config = chaos_config(broker_->bootstrap(), topology_, sink_->url(), true);
  config.dedup_backend = "redis";
  config.redis_url = redis_->url();
  // A reservation outlives the longest wait of its record for the sink (a breaker open
  // through a bad period): one that expired while its record waited would let another
  // instance forward the same content. A killed instance's reservations block its
  // successor this long.
  config.reservation_ttl = "15s";
  if (options_.retry_ordering != "none") {
    size_t at = config.extra_yaml.find("retry:\n");
    config.extra_yaml.insert(at + 7, "  ordering: " + options_.retry_ordering + "\n");
  }
  for (int i = 1; i <= options_.instances; ++i) {
    Instance instance;
    instance.name = "sluice-" + std::to_string(i);
    instance.daemon = std::make_unique<test::SluiceDaemon>(config, *dir_, instance.name);
    instances_.push_back(std::move(instance));
  }
  producer_ = std::make_unique<devtools::RecordProducer>(broker_->bootstrap());

  // The operator's plan: every instance restarted in turn, then the kills. A long run
  // spreads its actions: about one second for every 400 records in all.
  for (size_t i = 0; i < instances_.size(); ++i) {
    Action restart;
    restart.instance = i;
    actions_.push_back(restart);
  }
  for (int k = 0; k < options_.kills; ++k) {
    Action kill;
    kill.kind = Action::Kind::Kill;
    kill.instance = static_cast<size_t>(random_.between(0, options_.instances - 1));
    kill.restart_delay = random_.between(100ms, 1500ms);
    actions_.push_back(kill);
  }
  action_gap_ = Millis(int64_t{options_.messages} * 1000 / 400 / static_cast<int64_t>(actions_.size() + 1));
  action_seconds_ += seconds(action_gap_);
}

void ScaleOutRun::start(Instance& instance) {
  instance.log_offset = instance.daemon->logs().size();
  instance.daemon->start();
  instance.state = State::Starting;
  instance.port.reset();
  instance.started_at = Clock::now();
  instance.next_probe = instance.started_at;
  events_.push_back({RunEvent::Kind::Membership, std::chrono::system_clock::now()});
}

// A starting instance is ready once its admin server (the port from this start's log lines)
// answers /readyz with 200: it has joined the group and received its assignment.
void ScaleOutRun::probe(Instance& instance, Clock::time_point now) {
  if (instance.state != State::Starting || now < instance.next_probe) return;
  instance.next_probe = now + 250ms;
  if (!instance.port) {
    std::string logs = instance.daemon->logs();
    size_t line = logs.rfind("\"msg\":\"admin server listening\"");
    if (line == std::string::npos || line < instance.log_offset) return;
    size_t at = logs.find("\"port\":", line);
    if (at == std::string::npos) return;
    instance.port = static_cast<uint16_t>(std::stoi(logs.substr(at + 7)));
  }
  try {
    if (test::http_get("127.0.0.1", *instance.port, "/readyz").status == 200) {
      instance.state = State::Ready;
      events_.push_back({RunEvent::Kind::Membership, std::chrono::system_clock::now()});
    }
  } catch (const std::exception&) {
    // Not answering yet.
  }
}

// An instance that ended by itself is restarted at once, as a supervisor would, and
// reported; a signal (a crash) fails the run.
void ScaleOutRun::check_alive(Instance& instance) {
  if ((instance.state != State::Starting && instance.state != State::Ready) || instance.daemon->running()) return;
  int status = instance.daemon->exit_status().value_or(-1);
  std::string note = instance.name + " exit status " + std::to_string(status) + " at " +
                     std::to_string(static_cast<int>(elapsed())) + "s";
  std::cout << "  " << note << " by itself; restarting it\n";
  result_.unexpected_exits.push_back(note);
  start(instance);
}

bool ScaleOutRun::all_ready() const {
  return std::all_of(instances_.begin(), instances_.end(), [](const Instance& i) { return i.state == State::Ready; });
}

void ScaleOutRun::begin(Action& action, Clock::time_point now) {
  Instance& instance = instances_[action.instance];
  action.began = now;
  if (action.kind == Action::Kind::Restart) {
    std::printf("  %5.0fs rolling restart: SIGTERM to %s\n", elapsed(), instance.name.c_str());
    instance.daemon->terminate();
    instance.state = State::Stopping;
    events_.push_back({RunEvent::Kind::Membership, std::chrono::system_clock::now()});
  } else {
    std::printf("  %5.0fs kill -9 of %s\n", elapsed(), instance.name.c_str());
    instance.daemon->kill9();
    instance.state = State::Down;
    action.exited = Clock::now();
    events_.push_back({RunEvent::Kind::Membership, std::chrono::system_clock::now()});
    // What had arrived by now; the dead instance sends nothing more.
    KillMark mark;
    mark.http_deliveries = sink_->deliveries().size();
    mark.downstream_ends =
        devtools::end_offsets(broker_->bootstrap(), kDownstream, topology_.partitions.at(kDownstream));
    kill_marks_.push_back(std::move(mark));
  }
  std::fflush(stdout);
}

void ScaleOutRun::step_operator(Clock::time_point now) {
  if (next_action_ >= actions_.size()) return;
  Action& action = actions_[next_action_];
  Instance& instance = instances_[action.instance];
  if (!action.began) {
    // The next action waits for every instance to be ready, then a little, under input.
    if (!all_ready()) return;
    if (!next_action_at_) next_action_at_ = now + random_.between(1000ms, 4000ms) + action_gap_;
    if (now < *next_action_at_) return;
    begin(action, now);
    return;
  }
  if (instance.state == State::Stopping) {
    std::optional<int> status = instance.daemon->exit_status();
    if (!status && now - *action.began < kExitTimeout) return;
    if (!status) {
      instance.daemon->kill9();
      std::printf("  %s did not exit within %.0fs of SIGTERM; killed\n", instance.name.c_str(), seconds(kExitTimeout));
    }
    action.exit_status = status.value_or(-1);
    action.exited = now;
    if (status && *status != 0) {
      // Its log goes with the replacement: what it said last (a sanitizer's report, a failed
      // assertion) is shown now.
      std::printf("  %s exited %d on SIGTERM; the last lines of its log:\n%s\n----\n", instance.name.c_str(), *status,
                  log_tail(instance.daemon->logs(), 40).c_str());
    }
    start(instance);
    return;
  }
  if (instance.state == State::Down) {
    if (now >= *action.exited + action.restart_delay) start(instance);
    return;
  }
  if (instance.state == State::Starting && now - instance.started_at < kReadyTimeout) return;
  if (instance.state == State::Ready) action.ready = now;
  std::printf("  %5.0fs %s %s after %.1fs\n", elapsed(), instance.name.c_str(),
              action.ready ? "ready again" : "NOT ready", seconds(now - *action.began));
  // The expected length of an action, with its pause, from those done so far.
  Clock::time_point previous = last_action_done_.value_or(*action.began);
  last_action_done_ = now;
  action_seconds_ = std::max(8.0, (action_seconds_ * static_cast<double>(next_action_ + 1) + seconds(now - previous)) /
                                      static_cast<double>(next_action_ + 2));
  next_action_ += 1;
  next_action_at_.reset();
  if (next_action_ >= actions_.size()) operator_done_at_ = now;
}

void ScaleOutRun::produce(size_t count) {
  size_t end = std::min(mix_.size(), produced_ + count);
  for (size_t i = produced_; i < end; ++i) producer_->produce(mix_[i].record);
  producer_->flush();
  produced_ = end;
}

void ScaleOutRun::step_production(Clock::time_point now) {
  if (now < next_slice_at_ || produced_ >= mix_.size()) return;
  next_slice_at_ = now + kSliceInterval;
  // Nine tenths by the time the operator is expected to be done, the rest 5 s after it is.
  size_t target = mix_.size();
  double left = 0;
  if (operator_done_at_) {
    left = seconds(*operator_done_at_ + 5s - now);
  } else {
    target = mix_.size() * 9 / 10;
    // The actions after the current one (the start-up counts as one), and what the
    // current one is expected to take still.
    double after_current = static_cast<double>(actions_.size() - next_action_) - (last_action_done_ ? 1.0 : 0.0);
    Clock::time_point from = last_action_done_.value_or(started_);
    left = after_current * action_seconds_ + std::max(3.0, action_seconds_ - seconds(now - from));
  }
  if (produced_ >= target) return;
  double share = std::min(1.0, seconds(kSliceInterval) / std::max(left, seconds(kSliceInterval)));
  produce(std::max<size_t>(1, static_cast<size_t>(static_cast<double>(target - produced_) * share)));
}

// The sink flaps; now and then the sink broker refuses a produce request with an error
// sluice takes as transient, so the topic route goes through the retry tiers too.
void ScaleOutRun::step_faults(Clock::time_point now) {
  std::string fault = flapper_->step(now);
  if (!fault.empty()) result_.faults[fault] += 1;
  if (now < next_produce_error_) return;
  next_produce_error_ = now + random_.between(3000ms, 8000ms);
  broker_->control("berr 2 Produce POLICY_VIOLATION 0");
  events_.push_back({RunEvent::Kind::ProduceError, std::chrono::system_clock::now()});
  result_.faults["sink produce error (POLICY_VIOLATION)"] += 1;
}

void ScaleOutRun::print_progress(Clock::time_point now) {
  if (now < next_progress_) return;
  next_progress_ = now + 5s;
  std::string states;
  for (const Instance& instance : instances_) {
    static const char* kNames[] = {"down", "starting", "ready", "stopping"};
    states += " " + instance.name + " " + kNames[static_cast<int>(instance.state)];
  }
  std::printf("  %5.0fs produced %zu/%zu, actions %zu/%zu, http %s,%s\n", elapsed(), produced_, mix_.size(),
              next_action_, actions_.size(), sink_mode_name(sink_->mode()), states.c_str());
  std::fflush(stdout);
}

void ScaleOutRun::operate() {
  Clock::time_point now = Clock::now();
  flapper_ = std::make_unique<SinkFlapper>(*sink_, random_, now);
  next_produce_error_ = now + random_.between(3000ms, 8000ms);
  next_slice_at_ = now;
  next_progress_ = now;
  for (Instance& instance : instances_) start(instance);
  // Half of the time limit for this phase, the rest for recovery and the accounting.
  const Clock::time_point phase_deadline = started_ + (deadline_ - started_) / 2;
  while (!(operator_done_at_ && produced_ >= mix_.size())) {
    now = Clock::now();
    if (now >= phase_deadline) {
      std::printf("operator phase cut short at %.0fs: half of --max-minutes is over\n", elapsed());
      break;
    }
    for (Instance& instance : instances_) {
      check_alive(instance);
      probe(instance, now);
    }
    step_operator(now);
    step_production(now);
    step_faults(now);
    print_progress(now);
    std::this_thread::sleep_until(now + 20ms);
  }
  result_.operate_seconds = elapsed();
}

void ScaleOutRun::recover() {
  std::printf("recovery at %.0fs: the sink answers again; waiting for the group to commit everything\n", elapsed());
  std::fflush(stdout);
  sink_->set_mode(SinkMode::Ok);
  Clock::time_point began = Clock::now();
  auto time_left = [&] { return std::chrono::duration_cast<Millis>(std::max(deadline_ - Clock::now(), Clock::duration(0))); };
  for (Instance& instance : instances_) {
    if (instance.state == State::Stopping && !instance.daemon->exit_status(kExitTimeout)) instance.daemon->kill9();
    if (instance.state != State::Starting && instance.state != State::Ready) start(instance);
  }
  produce(mix_.size());
  // Caught up twice in a row, a second apart: nothing was still on its way into a tier.
  int in_a_row = 0;
  bool drained = test::wait_until([&] {
    Clock::time_point now = Clock::now();
    for (Instance& instance : instances_) {
      check_alive(instance);
      probe(instance, now);
    }
    print_progress(now);
    in_a_row = group_caught_up(broker_->bootstrap(), topology_) ? in_a_row + 1 : 0;
    return in_a_row >= 2;
  }, time_left(), 1000ms);
  result_.recovery_seconds = seconds(Clock::now() - began);
  result_.checks.push_back({"the group committed every inbound and retry-tier record", drained, drained ? "" : "not within --max-minutes"});
}

void ScaleOutRun::stop_all() {
  for (Instance& instance : instances_) {
    if (instance.daemon->running()) instance.daemon->terminate();
  }
  for (Instance& instance : instances_) {
    std::optional<int> status = instance.daemon->exit_status(kExitTimeout);
    if (!status) instance.daemon->kill9();
    result_.final_exits.emplace_back(instance.name, status.value_or(-1));
    instance.state = State::Down;
  }
}

void ScaleOutRun::verify() {
  Collected collected = collect(broker_->bootstrap(), topology_, *sink_);
  result_.tier_records = collected.tier_records;
  result_.checks.push_back({"the broker kept every record (nothing evicted)", collected.evicted.empty(), collected.evicted});
  result_.checks.push_back({"the inbound topics hold exactly the records produced", collected.inbound.size() == mix_.size(),
                     std::to_string(collected.inbound.size()) + " of " + std::to_string(mix_.size())});
  result_.accounting = account(mix_, collected.outputs);
  std::string lost;
  for (const std::string& key : result_.accounting.lost_examples) lost += key + "; ";
  result_.checks.push_back({"no record lost", result_.accounting.lost() == 0, lost});
  for (const auto& [kind, problem] : result_.accounting.problems) {
    result_.checks.push_back({kind, false, std::to_string(problem.count) + "x, e.g. " + problem.example});
  }

  std::string exits;
  bool ready = true;
  for (const Action& action : actions_) {
    if (action.kind == Action::Kind::Restart && action.exit_status != 0) {
      exits += instances_[action.instance].name + " rolling: " + std::to_string(action.exit_status.value_or(-1)) + "; ";
    }
    ready = ready && action.ready.has_value();
  }
  for (const auto& [name, status] : result_.final_exits) {
    if (status != 0) exits += name + " final: " + std::to_string(status) + "; ";
  }
  result_.checks.push_back({"every instance exited 0 on SIGTERM (rolling restart and final stop)", exits.empty(), exits});
  result_.checks.push_back({"every action done and each replacement ready",
                     ready && next_action_ == actions_.size(),
                     std::to_string(next_action_) + " of " + std::to_string(actions_.size()) + " actions"});

  result_.order = check_order(mix_, collected.inbound, collected.outputs, kill_marks_, sink_->stops(), events_);
  // The examples of both sinks.
  auto examples = [&](std::vector<std::string> SinkOrder::*list) {
    std::string text;
    for (const SinkOrder* sink : {&result_.order.topic, &result_.order.http}) {
      for (const std::string& example : sink->*list) text += example + "; ";
    }
    return text;
  };
  const size_t violations = result_.order.topic.violations + result_.order.http.violations;
  std::string name = "key order kept for every key, topic and HTTP";
  if (options_.retry_ordering != "key") name += " (retry.ordering " + options_.retry_ordering + ": reported only)";
  result_.checks.push_back({name, violations == 0 || options_.retry_ordering != "key",
                     std::to_string(violations) + " violations: " + examples(&SinkOrder::order_examples)});
  result_.checks.push_back({"every key in one partition of the downstream topic", result_.order.split_keys == 0, result_.order.split_example});
  const size_t unexplained = result_.order.topic.unexplained_duplicates + result_.order.http.unexplained_duplicates;
  result_.checks.push_back({"duplicates downstream only across a kill -9 or after an attempt that failed for sluice", unexplained == 0,
                     std::to_string(unexplained) + " others: " + examples(&SinkOrder::duplicate_examples)});

  for (const Instance& instance : instances_) {
    const std::string logs = instance.daemon->logs();
    for (const char* result : {"ok", "failed"}) {
      result_.commits[result] +=
          counter_over_runs(logs, std::string("sluice_consumer_offset_commits_total{result=\"") + result + "\"}");
    }
  }
  std::string crashes = crashes_in(result_.unexpected_exits, "");
  for (const Instance& instance : instances_) {
    std::string found = crashes_in({}, instance.daemon->logs());
    if (!found.empty()) crashes += instance.name + ": " + found;
  }
  result_.checks.push_back({"sluice never crashed", crashes.empty(), crashes});
}

RunReport ScaleOutRun::report() {
  result_.seed = seed_;
  result_.options = options_;
  result_.run_seconds = elapsed();
  for (const Action& action : actions_) {
    if (!action.began) continue;
    ActionResult done;
    done.kill = action.kind == Action::Kind::Kill;
    done.instance = instances_[action.instance].name;
    done.restart_delay_seconds = seconds(action.restart_delay);
    done.exit_status = action.exit_status;
    if (action.exited) done.exit_seconds = seconds(*action.exited - *action.began);
    if (action.ready) done.ready_seconds = seconds(*action.ready - *action.began);
    result_.actions.push_back(done);
  }
  return render_scale_out(result_);
}

RunReport ScaleOutRun::run() {
  std::printf("sluice scale-out run: seed %llu, %d messages on %d keys, %d instances, %d kills, retry.ordering %s\n",
              static_cast<unsigned long long>(seed_), options_.messages, kKeys, options_.instances, options_.kills,
              options_.retry_ordering.c_str());
  std::fflush(stdout);
  set_up();
  std::printf("topics:%s\n", layout(topology_).c_str());
  operate();
  recover();
  stop_all();
  verify();
  if (Clock::now() >= deadline_) result_.checks.push_back({"finished within --max-minutes", false, ""});
  RunReport result = report();
  if (!result.passed) {
    for (const Instance& instance : instances_) {
      std::cerr << "---- the last lines of " << instance.name << "'s log (SLUICE_KEEP_TEST_DIRS=1 keeps every file) ----\n"
                << log_tail(instance.daemon->logs(), 15) << "\n";
    }
  }
  return result;
}

}  // namespace

RunReport run_scale_out(const Options& options, uint64_t seed) {
  ScaleOutRun run(options, seed);
  return run.run();
}

}  // namespace sluice::chaos
