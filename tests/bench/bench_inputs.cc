#include "bench/bench_inputs.h"

#include <stdexcept>
#include <utility>

#include "devtools/message_mix.h"
#include "stages/filter_stage.h"
#include "stages/parse_stage.h"
#include "stages/schema_stage.h"

namespace sluice::bench {
namespace {

MixInputs build() {
  MixInputs inputs;
  // The values of config/sluice.yaml that the stages read.
  inputs.config.pipeline.schemas_dir = SLUICE_SOURCE_DIR "/config/schemas";
  inputs.config.pipeline.filter.spam_keywords = {"free money", "click here", "urgent action required",
                                                 "congratulations you won", "act now"};
  // The senders the mix's blocked_sender records use (as in the integration tests' config).
  std::vector<std::string> errors;
  stages::StageResources resources;
  resources.schemas = stages::load_schemas(inputs.config.pipeline, errors);
  resources.blocked_senders =
      std::make_shared<const stages::SenderList>(std::vector<std::string>{"spammer@example.com", "+15550000666"});
  resources.spam_keywords = stages::build_spam_keywords(inputs.config.pipeline.filter, errors);
  if (!errors.empty()) throw std::runtime_error("stage resources: " + errors.front());
  inputs.resources = std::make_shared<const stages::StageResources>(std::move(resources));

  devtools::MixOptions options;
  options.count = kMixRecords;
  options.seed = 7;
  for (const devtools::MixRecord& entry : devtools::make_mix(options)) {
    inputs.values.push_back(entry.record.value.value_or(""));
    inputs.total_bytes += inputs.values.back().size();
  }

  stages::ParseStage parse(static_cast<int>(inputs.config.pipeline.max_json_depth));
  stages::SchemaStage schema(inputs.resources->schemas);
  stages::FilterStage filter(inputs.resources->blocked_senders, inputs.resources->spam_keywords);
  for (const std::string& value : inputs.values) {
    auto context = std::make_unique<stages::MessageContext>();
    context->reset(value, false);
    if (parse.process(*context).verdict != stages::Verdict::Continue) continue;
    stages::MessageContext* kept = context.get();
    inputs.parsed.push_back(std::move(context));
    if (schema.process(*kept).verdict != stages::Verdict::Continue) continue;
    inputs.validated.push_back(kept);
    if (filter.process(*kept).verdict != stages::Verdict::Continue) continue;
    inputs.clean.push_back(kept);
  }
  return inputs;
}

}  // namespace

const MixInputs& mix_inputs() {
  static const MixInputs inputs = build();
  return inputs;
}

}  // namespace sluice::bench
