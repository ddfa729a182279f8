// The engine's own work for a bad record: building its DLQ envelope (the original value
// embedded as a JSON string, the error and where the record came from, a timestamp). About one
// record in five of the realistic mix goes to the DLQ.

#include <benchmark/benchmark.h>

#include <chrono>
#include <string>

#include "bench/bench_inputs.h"
#include "engine/dead_letter_envelope.h"

namespace sluice::bench {
namespace {

void dead_letter_envelope(benchmark::State& state) {
  const MixInputs& inputs = mix_inputs();
  const std::string key = "k-123456";
  size_t next = 0;
  for (auto _ : state) {
    engine::DeadLetterInfo info;
    info.value = inputs.values[next];
    info.key = key.data();
    info.key_size = key.size();
    info.topic = "inbound.email";
    info.partition = 3;
    info.offset = 123'456 + static_cast<int64_t>(next);
    info.timestamp_ms = 1'790'000'000'000;
    info.error = "schema_violation";
    info.error_stage = "schema";
    info.error_detail = "/payload/from: \"not-an-email\" is not a valid email address";
    info.failed_at = std::chrono::system_clock::now();
    benchmark::DoNotOptimize(engine::build_dead_letter_envelope(info));
    next = next + 1 == inputs.values.size() ? 0 : next + 1;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(dead_letter_envelope)->Name("engine/dead_letter_envelope");

}  // namespace
}  // namespace sluice::bench
