#include "bench/pipeline_metrics.h"

#include <algorithm>
#include <optional>

#include "support/http_get.h"
#include "support/prometheus_text.h"

namespace sluice::bench {
namespace {

using namespace std::chrono_literals;

// sluice publishes the gauges every 100 ms; sampling at half that rate is plenty for a mean
// and keeps the scrapes' own cost on sluice (and on the shared CPUs) small.
constexpr auto kGaugePeriod = 200ms;

// The /metrics text, or nullopt when sluice did not answer with 200.
std::optional<std::string> scrape(uint16_t port) {
  test::HttpGetResult answer = test::http_get("127.0.0.1", port, "/metrics");
  if (answer.status != 200) return std::nullopt;
  return std::move(answer.body);
}

std::optional<double> step_value(const std::string& text, const char* metric, const char* step) {
  return test::metric_value(text, metric, {{"step", step}});
}

}  // namespace

PipelineSampler::PipelineSampler(uint16_t admin_port) : port_(admin_port) {
  start_ = scrape_counters();
  thread_ = std::thread([this] { sample_loop(); });
}

PipelineSampler::~PipelineSampler() { stop_sampling(); }

void PipelineSampler::stop_sampling() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

PipelineSampler::Counters PipelineSampler::scrape_counters() const {
  Counters counters;
  counters.at = Clock::now();
  std::optional<std::string> text = scrape(port_);
  if (!text) return counters;
  for (const char* step : kPipelineSteps) {
    std::optional<double> seconds = step_value(*text, "sluice_pipeline_step_seconds_total", step);
    std::optional<double> records = step_value(*text, "sluice_pipeline_step_records_total", step);
    if (!seconds || !records) return counters;
    counters.step_seconds[step] = *seconds;
    counters.step_records[step] = *records;
  }
  std::optional<double> stopped = test::metric_value(*text, "sluice_pipeline_intake_stopped_seconds_total");
  if (!stopped) return counters;
  counters.intake_stopped_seconds = *stopped;
  counters.ok = true;
  return counters;
}

void PipelineSampler::sample_loop() {
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, kGaugePeriod, [this] { return stopping_; })) {
    lock.unlock();
    std::optional<std::string> text = scrape(port_);
    std::map<std::string, double> by_step;
    std::optional<double> in_flight;
    if (text) {
      in_flight = test::metric_value(*text, "sluice_pipeline_in_flight_records");
      for (const char* step : kPipelineSteps) {
        if (std::optional<double> records = step_value(*text, "sluice_pipeline_records_by_step", step)) {
          by_step[step] = *records;
        }
      }
    }
    lock.lock();
    // A sample counts only whole: a partial one would skew the means of the steps it lacks.
    if (!in_flight || by_step.size() != kPipelineSteps.size()) continue;
    for (const auto& [step, records] : by_step) gauge_sums_[step] += records;
    peak_in_flight_ = std::max(peak_in_flight_, static_cast<int64_t>(*in_flight));
    ++samples_;
  }
}

PipelineWaits PipelineSampler::finish() {
  stop_sampling();
  PipelineWaits waits;
  waits.samples = samples_;
  waits.peak_in_flight = peak_in_flight_;
  if (samples_ > 0) {
    for (const auto& [step, sum] : gauge_sums_) waits.step_records[step] = sum / samples_;
  }
  const Counters end = scrape_counters();
  if (!start_.ok || !end.ok) return waits;
  waits.measured = true;
  for (const char* step : kPipelineSteps) {
    const double left = end.step_records.at(step) - start_.step_records.at(step);
    if (left > 0) waits.step_ms[step] = (end.step_seconds.at(step) - start_.step_seconds.at(step)) / left * 1e3;
  }
  const double interval = std::chrono::duration<double>(end.at - start_.at).count();
  if (interval > 0) {
    waits.intake_stopped_share = (end.intake_stopped_seconds - start_.intake_stopped_seconds) / interval;
  }
  return waits;
}

}  // namespace sluice::bench
