#pragma once
// The CPU half of a record's way through the engine: the stage chain (size, parse, schema,
// filter), the route and the fingerprint. It reads the record's value and writes only its
// decision into the record (verdict, stage, reason, detail, route, fingerprint,
// correlation_id), so it can run on the stage thread while the engine thread owns everything
// else; the engine acts on the decision afterwards (DLQ, filtered, dedup).
//
// Threading: one thread at a time — the stage thread when pipeline.stage_thread is on, the
// engine thread otherwise. Its metrics (stage histograms) are safe from any thread.

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/in_flight_record.h"
#include "engine/router.h"
#include "fingerprint/fingerprint.h"
#include "metrics/metrics.h"
#include "stages/stage.h"
#include "stages/stage_chain.h"

namespace sluice::engine {

class StageRunner {
 public:
  // `router` outlives the runner.
  StageRunner(std::unique_ptr<stages::StageChain> chain, const Router& router, metrics::Metrics& metrics);

  // Decides `record`: verdict Continue (with route and fingerprint) to go on to dedup,
  // Filter or DeadLetter with stage, reason and detail.
  void run(InFlightRecord& record);

  // New schemas and lists (a reload); the next record uses them.
  void set_resources(std::shared_ptr<const stages::StageResources> resources);

 private:
  std::unique_ptr<stages::StageChain> chain_;
  const Router& router_;
  stages::MessageContext context_;  // reused: its document keeps its allocations
  fingerprint::Fingerprinter fingerprinter_;
  std::vector<prometheus::Histogram*> stage_histograms_;  // per stage of the chain, in order
  prometheus::Histogram* fingerprint_histogram_ = nullptr;
  std::vector<std::chrono::nanoseconds> stage_durations_;
  uint64_t records_seen_ = 0;  // for sampling the stage timings
};

}  // namespace sluice::engine
