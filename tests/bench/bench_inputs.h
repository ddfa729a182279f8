#pragma once
// Inputs shared by the microbenchmarks: the realistic mix (devtools/message_mix.h), the
// stage configuration of config/sluice.yaml, and the mix pre-digested to the point each
// stage sees it, so a benchmark of one stage measures that stage only.

#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "stages/stage.h"
#include "stages/stage_chain.h"

namespace sluice::bench {

// Records in the mix the benchmarks cycle through: enough that branch predictors and caches
// see variety, few enough that the parsed documents stay cheap to hold.
constexpr int kMixRecords = 2000;

struct MixInputs {
  config::Config config;
  std::shared_ptr<const stages::StageResources> resources;
  std::vector<std::string> values;  // every record value of the mix (tombstones as "")
  size_t total_bytes = 0;
  // Records parsed by the parse stage, stopped where each stage lets them go: `parsed` got
  // through parse, `validated` through schema too, `clean` through filter as well.
  std::vector<std::unique_ptr<stages::MessageContext>> parsed;
  std::vector<stages::MessageContext*> validated;
  std::vector<stages::MessageContext*> clean;
};

// Built once per process; throws when the repository's schemas or lists do not load.
const MixInputs& mix_inputs();

}  // namespace sluice::bench
