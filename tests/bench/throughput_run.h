#pragma once
// One throughput run: a fresh broker preloaded with the corpus, the process under test timed
// from its group join until everything it must produce has arrived downstream.

#include "bench/bench_report.h"
#include "bench/bench_setup.h"

namespace sluice::bench {

// Never throws: a failed run comes back with ok false and the reason in error.
ThroughputResult run_throughput(const ScenarioSpec& spec, const Corpus& corpus);

}  // namespace sluice::bench
