#pragma once
// An Engine on fakes, for tests that drive it step by step: a FakeConsumer and FakeProducer
// on a shared FakeCluster, a manual clock, the real stages (the repository's schemas), a
// memory dedup store (or one the test passes) and a metrics registry of its own. The stage
// thread is off, so every step is deterministic.
//
// Threading: the test's thread.

#include <memory>
#include <string>
#include <vector>

#include "dedup/dedup_store.h"
#include "engine/engine.h"
#include "fakes/fake_cluster.h"
#include "fakes/fake_consumer.h"
#include "fakes/fake_producer.h"
#include "fakes/manual_clock.h"
#include "metrics/metrics.h"
#include "stages/stage_chain.h"

namespace sluice::fakes {

// A config for the harness: topics inbound.email (input), clean.email (route), dlq, the tiers
// given, memory dedup, stage thread off; `extra_yaml` is appended (later keys win where the
// loader allows; otherwise write the whole section in `extra_yaml` and pass `sections`).
std::string harness_yaml(const std::string& delivery, const std::string& extra_yaml = {});

// The loaded config and stage resources, for tests that start many engines on one config.
struct HarnessSetup {
  std::shared_ptr<const config::Config> config;
  std::shared_ptr<const stages::StageResources> resources;
};
HarnessSetup load_setup(const std::string& yaml);

class EngineHarness {
 public:
  struct Options {
    std::string member_id = "member-1";
    std::string transactional_id;       // empty: the config's
    dedup::DedupStorePtr dedup;         // nullptr: a memory store of its own
    engine::LifecycleListener* lifecycle = nullptr;  // optional; outlives the harness
  };
  // Creates the engine (the topics must exist in `cluster`); REQUIREs that it starts.
  EngineHarness(FakeCluster& cluster, ManualClock& clock, const std::string& yaml);
  EngineHarness(FakeCluster& cluster, ManualClock& clock, const HarnessSetup& setup, Options options);
  ~EngineHarness();

  engine::Engine& engine() { return *engine_; }
  FakeConsumer& consumer() { return *consumer_; }
  FakeProducer& producer() { return *producer_; }
  metrics::Metrics& metrics() { return *metrics_; }
  const config::Config& config() const { return *config_; }

  // One loop round; false once the engine has stopped.
  bool step();
  // Rounds until `done` holds (true) or `max_steps` pass (false), advancing the clock by
  // `tick` after each.
  bool run_until(const std::function<bool()>& done, int max_steps = 10'000,
                 std::chrono::milliseconds tick = std::chrono::milliseconds(10));
  // Stop request, rounds until it stopped, then the rest of the stop; returns the exit code.
  int stop(int max_steps = 10'000);
  // The value of a counter or gauge in the metrics text, -1 when absent.
  double metric(const std::string& name, const std::map<std::string, std::string>& labels = {}) const;

 private:
  ManualClock& clock_;
  std::shared_ptr<const config::Config> config_;
  std::unique_ptr<metrics::Metrics> metrics_;
  FakeConsumer* consumer_ = nullptr;  // owned by the engine
  FakeProducer* producer_ = nullptr;  // owned by the engine
  std::unique_ptr<engine::Engine> engine_;
};

// An email event that passes the stages (distinct per `id`), and one that does not parse.
std::string valid_email(const std::string& id);
std::string invalid_json(const std::string& id);
// An email event the spam filter drops ("free money" in its body).
std::string spam_email(const std::string& id);

}  // namespace sluice::fakes
