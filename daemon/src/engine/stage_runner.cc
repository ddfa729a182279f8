#include "engine/stage_runner.h"

#include <string>
#include <utility>

#include "common/assert.h"
#include "common/outcome.h"
#include "engine/record_headers.h"
#include "json/json_parser.h"

namespace sluice::engine {

namespace {
// One record in this many has its CPU stages timed for the stage histograms.
constexpr uint64_t kStageSampleMask = 7;
}  // namespace

StageRunner::StageRunner(std::unique_ptr<stages::StageChain> chain, const Router& router, metrics::Metrics& metrics)
    : chain_(std::move(chain)), router_(router) {
  SLUICE_ASSERT(chain_ != nullptr, "a stage runner needs a stage chain");
  for (const stages::StagePtr& stage : chain_->stages()) {
    stage_histograms_.push_back(&metrics.histogram(metrics::MetricId::StageDuration, {{"stage", std::string(stage->name())}}));
  }
  fingerprint_histogram_ = &metrics.histogram(metrics::MetricId::StageDuration, {{"stage", "fingerprint"}});
}

void StageRunner::run(InFlightRecord& record) {
  using Clock = std::chrono::steady_clock;
  stages::MessageContext& context = context_;
  // Here rather than on the engine thread at intake: parsing a consumed record's headers reads
  // bytes next to its value, which this thread reads anyway, and that the engine thread would
  // find out of the cache.
  if (record.inbound) rename_inbound_headers(record.message, &record.replayed);
  record.remember_key_hash();
  context.reset(record.value(), record.value_is_null());
  const bool timed = (records_seen_++ & kStageSampleMask) == 0;
  stages::StageChain::Outcome outcome = chain_->run(context, timed ? &stage_durations_ : nullptr);
  if (timed) {
    for (size_t i = 0; i < stage_durations_.size() && i < stage_histograms_.size(); ++i) {
      stage_histograms_[i]->Observe(std::chrono::duration<double>(stage_durations_[i]).count());
    }
  }
  record.correlation_id.assign(json::get_string(context.document.root(), "correlation_id").substr(0, 128));
  record.verdict = outcome.result.verdict;
  if (outcome.result.verdict != stages::Verdict::Continue) {
    record.stage = outcome.stage;
    record.reason = outcome.result.reason;
    record.detail = std::move(outcome.result.detail);
    return;
  }
  int route = router_.match(context.channel, context.message_type);
  if (route < 0) {
    record.verdict = stages::Verdict::DeadLetter;
    record.stage = stage_name::kRoute;
    record.reason = Reason::NoRoute;
    record.detail = "no route matches channel=\"" + std::string(context.channel) + "\" message_type=\"" +
                    std::string(context.message_type) + "\"";
    return;
  }
  record.route = route;
  auto fingerprint_started = timed ? Clock::now() : Clock::time_point();
  // The payload: a framed record's JSON fingerprints as the same JSON unframed.
  record.fingerprint = fingerprinter_.compute(context.document, context.payload);
  if (timed) fingerprint_histogram_->Observe(std::chrono::duration<double>(Clock::now() - fingerprint_started).count());
}

void StageRunner::set_resources(std::shared_ptr<const stages::StageResources> resources) {
  chain_->set_resources(std::move(resources));
}

}  // namespace sluice::engine
