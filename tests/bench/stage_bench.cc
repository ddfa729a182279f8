// sluice-microbench: the CPU stages one message at a time, over the realistic mix.
// Each benchmark cycles through the records that reach its stage (see bench_inputs.h), so
// its time per item is what that stage costs on the traffic it actually sees. items/s is
// messages per second on one core; bytes/s counts the raw record values.

#include <benchmark/benchmark.h>

#include <cstdio>
#include <exception>

#include "bench/bench_inputs.h"
#include "fingerprint/fingerprint.h"
#include "json/json_parser.h"
#include "stages/filter_stage.h"
#include "stages/parse_stage.h"
#include "stages/schema_stage.h"
#include "stages/stage_chain.h"

namespace sluice::bench {
namespace {

void parse(benchmark::State& state) {
  const MixInputs& inputs = mix_inputs();
  json::JsonParser parser(static_cast<int>(inputs.config.pipeline.max_json_depth));
  json::ParsedDocument document;
  size_t next = 0;
  int64_t bytes = 0;
  for (auto _ : state) {
    const std::string& value = inputs.values[next];
    benchmark::DoNotOptimize(parser.parse(value, document));
    bytes += static_cast<int64_t>(value.size());
    next = next + 1 == inputs.values.size() ? 0 : next + 1;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(bytes);
}
BENCHMARK(parse)->Name("stage/parse");

// valijson over the structure, then the schema's own format checks (email, date-time).
void schema(benchmark::State& state) {
  const MixInputs& inputs = mix_inputs();
  stages::SchemaStage stage(inputs.resources->schemas);
  size_t next = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(stage.process(*inputs.parsed[next]));
    next = next + 1 == inputs.parsed.size() ? 0 : next + 1;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(schema)->Name("stage/schema");

// Blocked senders and spam keywords, over records that passed the schema.
void filter(benchmark::State& state) {
  const MixInputs& inputs = mix_inputs();
  stages::FilterStage stage(inputs.resources->blocked_senders, inputs.resources->spam_keywords);
  size_t next = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(stage.process(*inputs.validated[next]));
    next = next + 1 == inputs.validated.size() ? 0 : next + 1;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(filter)->Name("stage/filter");

// Canonical Python-style JSON plus SHA-256, over records that would be forwarded.
void fingerprint(benchmark::State& state) {
  const MixInputs& inputs = mix_inputs();
  fingerprint::Fingerprinter fingerprinter;
  size_t next = 0;
  for (auto _ : state) {
    const stages::MessageContext& message = *inputs.clean[next];
    benchmark::DoNotOptimize(fingerprinter.compute(message.document, message.value));
    next = next + 1 == inputs.clean.size() ? 0 : next + 1;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(fingerprint)->Name("stage/fingerprint");

// What a worker does per record before the I/O half: size, parse, schema, filter, and the
// fingerprint of whatever gets through. Bad, filtered and valid records in mix proportions.
void cpu_path(benchmark::State& state) {
  const MixInputs& inputs = mix_inputs();
  stages::StageChain chain(inputs.config.pipeline, inputs.resources);
  fingerprint::Fingerprinter fingerprinter;
  stages::MessageContext message;
  size_t next = 0;
  int64_t bytes = 0;
  for (auto _ : state) {
    const std::string& value = inputs.values[next];
    message.reset(value, false);
    stages::StageChain::Outcome outcome = chain.run(message);
    if (outcome.result.verdict == stages::Verdict::Continue) {
      benchmark::DoNotOptimize(fingerprinter.compute(message.document, message.value));
    }
    benchmark::DoNotOptimize(outcome);
    bytes += static_cast<int64_t>(value.size());
    next = next + 1 == inputs.values.size() ? 0 : next + 1;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(bytes);
}
BENCHMARK(cpu_path)->Name("chain/stages+fingerprint");

// The stage chain alone, as StageChain::run does it.
void chain_only(benchmark::State& state) {
  const MixInputs& inputs = mix_inputs();
  stages::StageChain chain(inputs.config.pipeline, inputs.resources);
  stages::MessageContext message;
  size_t next = 0;
  for (auto _ : state) {
    message.reset(inputs.values[next], false);
    benchmark::DoNotOptimize(chain.run(message));
    next = next + 1 == inputs.values.size() ? 0 : next + 1;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(chain_only)->Name("chain/stages");

}  // namespace
}  // namespace sluice::bench

int main(int argc, char** argv) {
  // Build the inputs before any timing, and fail loudly if the repository's config is broken.
  try {
    const sluice::bench::MixInputs& inputs = sluice::bench::mix_inputs();
    std::fprintf(stderr, "mix: %zu records, %.0f bytes on average; %zu parse, %zu pass the schema, %zu are clean\n",
                 inputs.values.size(),
                 static_cast<double>(inputs.total_bytes) / static_cast<double>(inputs.values.size()),
                 inputs.parsed.size(), inputs.validated.size(), inputs.clean.size());
  } catch (const std::exception& error) {
    std::fprintf(stderr, "sluice-microbench: %s\n", error.what());
    return 1;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
