#include "fakes/engine_harness.h"

#include <catch2/catch.hpp>

#include <cstdlib>

#include "common/log.h"
#include "config/loader.h"
#include "dedup/memory_dedup_store.h"
#include "devtools/message_mix.h"
#include "stages/stage_chain.h"
#include "support/prometheus_text.h"

namespace sluice::fakes {

std::string harness_yaml(const std::string& delivery, const std::string& extra_yaml) {
  return "kafka:\n"
         "  brokers: fake:9092\n"
         "  delivery: " + delivery + "\n"
         "  transactional_id: sluice-harness\n"
         "  group_id: harness\n"
         "  commit_interval: 100ms\n"
         "inbound:\n"
         "  topics: [inbound.email]\n"
         "pipeline:\n"
         "  schemas_dir: " SLUICE_SOURCE_DIR "/config/schemas\n"
         "  stage_thread: false\n"
         "  batch_size: 10\n"
         "  filter:\n"
         "    blocked_senders_file: \"\"\n"
         "    spam_keywords: [free money]\n"
         "  dedup:\n"
         "    backend: memory\n"
         "routes:\n"
         "  - match: {channel: email}\n"
         "    topic: clean.email\n"
         "dlq:\n"
         "  topic: dlq\n"
         "admin:\n"
         "  listen: \"\"\n" +
         extra_yaml;
}

HarnessSetup load_setup(const std::string& yaml) {
  config::LoadResult loaded =
      config::load_string(yaml, "harness.yaml", [](std::string_view) -> std::optional<std::string> { return std::nullopt; });
  INFO(yaml);
  for (const std::string& error : loaded.errors) UNSCOPED_INFO(error);
  REQUIRE(loaded.ok());
  std::vector<std::string> errors;
  auto resources = stages::load_stage_resources(*loaded.config, errors);
  for (const std::string& error : errors) UNSCOPED_INFO(error);
  REQUIRE(resources);
  return {loaded.config, resources};
}

EngineHarness::EngineHarness(FakeCluster& cluster, ManualClock& clock, const std::string& yaml)
    : EngineHarness(cluster, clock, load_setup(yaml), Options{}) {}

EngineHarness::EngineHarness(FakeCluster& cluster, ManualClock& clock, const HarnessSetup& setup, Options options)
    : clock_(clock), config_(setup.config), metrics_(std::make_unique<metrics::Metrics>()) {
  // The engine logs what the tests provoke (fencing, aborts, refusals) and would drown their
  // report; SLUICE_PROPERTY_SEED turns it on.
  log::configure(log::Format::Text, std::getenv("SLUICE_PROPERTY_SEED") != nullptr ? log::Level::Debug : log::Level::Off);
  dedup::DedupStorePtr dedup = std::move(options.dedup);
  if (!dedup) {
    dedup = std::make_unique<dedup::MemoryDedupStore>(config_->pipeline.dedup.window, 100'000,
                                                      [&clock] { return clock.epoch_ms(); });
  }
  auto consumer = std::make_unique<FakeConsumer>(cluster, config_->kafka.group_id, options.member_id);
  const bool transactional = config_->kafka.delivery == config::DeliveryMode::ExactlyOnce;
  std::string transactional_id = options.transactional_id.empty() ? config_->kafka.transactional_id : options.transactional_id;
  auto producer = std::make_unique<FakeProducer>(cluster, transactional ? transactional_id : std::string());
  producer->set_wait_hook([&clock](std::chrono::milliseconds waited) { clock.advance(waited); });
  consumer_ = consumer.get();
  // The engine asks for end-of-partition events with retry.ordering: key (engine_factory.cc).
  consumer_->partition_eof = config_->retry.ordering == config::RetryOrdering::Key;
  producer_ = producer.get();
  engine::Engine::Parts parts;
  parts.config = config_;
  parts.stage_chain = std::make_unique<stages::StageChain>(config_->pipeline, setup.resources);
  parts.dedup = std::move(dedup);
  parts.consumer = std::move(consumer);
  parts.producer = std::move(producer);
  parts.metrics = metrics_.get();
  parts.clock = &clock_;
  parts.lifecycle = options.lifecycle;
  parts.watch_paused_watermarks = false;
  std::vector<std::string> errors;
  engine_ = engine::Engine::create(std::move(parts), errors);
  for (const std::string& error : errors) UNSCOPED_INFO(error);
  REQUIRE(engine_);
}

EngineHarness::~EngineHarness() = default;

bool EngineHarness::step() { return engine_->step(); }

bool EngineHarness::run_until(const std::function<bool()>& done, int max_steps, std::chrono::milliseconds tick) {
  for (int i = 0; i < max_steps; ++i) {
    if (done()) return true;
    if (!engine_->step()) return done();
    clock_.advance(tick);
  }
  return done();
}

int EngineHarness::stop(int max_steps) {
  engine_->request_stop();
  for (int i = 0; i < max_steps && engine_->step(); ++i) clock_.advance(std::chrono::milliseconds(10));
  return engine_->finish();
}

double EngineHarness::metric(const std::string& name, const std::map<std::string, std::string>& labels) const {
  return test::metric_value(metrics_->serialize(), name, labels).value_or(-1);
}

std::string valid_email(const std::string& id) {
  return devtools::email_event(id + "@example.com", "hello " + id, id);
}

std::string invalid_json(const std::string& id) { return "{not json " + id; }

std::string spam_email(const std::string& id) {
  return devtools::email_event(id + "@example.com", "free money for " + id, id);
}

}  // namespace sluice::fakes
