// sluice-microbench: each dedup backend's protocol per message, in batches as the engine
// drives it: reserve(batch), confirm(batch), and flush() every kFlushEvery messages (the
// engine flushes before each offset commit, about once a second). Every fingerprint is new,
// as for the valid bulk of the traffic. Each run starts from an empty store and pushes a
// fixed number of messages, so SQLite's table grows alike in every run. Rates are wall-clock
// (UseRealTime): a Redis round trip costs time the engine thread spends waiting, not CPU.

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "dedup/memory_dedup_store.h"
#include "dedup/redis_dedup_store.h"
#include "dedup/sqlite_dedup_store.h"
#include "support/redis_server.h"
#include "support/temp_dir.h"

namespace sluice::bench {
namespace {

using namespace std::chrono_literals;
using dedup::DedupStore;
using dedup::Fingerprint;

constexpr int64_t kMessagesPerRun = 100'000;
constexpr int64_t kFlushEvery = 10'000;

// Spread over all 32 bytes like SHA-256 output (splitmix64 lanes), so B-tree pages and hash
// buckets are hit as by real fingerprints; distinct for every `n`.
Fingerprint fingerprint_of(uint64_t n) {
  Fingerprint fingerprint;
  uint64_t state = n * 4;
  for (size_t lane = 0; lane < 4; ++lane) {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    std::memcpy(fingerprint.bytes.data() + lane * 8, &z, sizeof z);
  }
  return fingerprint;
}

void run(benchmark::State& state, DedupStore& store) {
  const auto batch_size = static_cast<size_t>(state.range(0));
  std::vector<Fingerprint> batch(batch_size);
  std::vector<dedup::ReserveStatus> statuses;
  static uint64_t next = 0;  // across runs too: a Redis or SQLite run never sees an old key
  int64_t since_flush = 0;
  int64_t not_reserved = 0;
  for (auto _ : state) {
    for (Fingerprint& fingerprint : batch) fingerprint = fingerprint_of(next++);
    store.reserve(batch, statuses);
    for (dedup::ReserveStatus status : statuses) not_reserved += status != dedup::ReserveStatus::Reserved;
    store.confirm(batch);
    since_flush += static_cast<int64_t>(batch_size);
    if (since_flush >= kFlushEvery) {
      if (!store.flush()) state.SkipWithError("flush failed");
      since_flush = 0;
    }
  }
  if (!store.flush()) state.SkipWithError("flush failed");
  if (not_reserved > 0) state.SkipWithError("a new fingerprint was not reserved");
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(batch_size));
}

int64_t iterations_for(int64_t batch_size) { return kMessagesPerRun / batch_size; }

void memory(benchmark::State& state) {
  dedup::MemoryDedupStore store(24h, 1'000'000);
  run(state, store);
}

void sqlite(benchmark::State& state) {
  test::TempDir dir;
  dedup::SqliteDedupStore store(dir.file("dedup.db"), 24h);
  run(state, store);
}

void redis(benchmark::State& state) {
  std::unique_ptr<test::RedisServer> server;
  try {
    server = std::make_unique<test::RedisServer>();
  } catch (const std::exception& error) {
    state.SkipWithError((std::string("skipped: ") + error.what()).c_str());
    for (auto _ : state) {
    }
    return;
  }
  dedup::RedisDedupOptions options;
  options.url = server->url();
  dedup::RedisDedupStore store(options);
  run(state, store);
}

void register_all() {
  for (int64_t batch : {100, 1000}) {
    for (auto [name, function] : {std::pair{"dedup/memory", &memory}, std::pair{"dedup/sqlite", &sqlite},
                                  std::pair{"dedup/redis", &redis}}) {
      benchmark::RegisterBenchmark(name, function)->Arg(batch)->Iterations(iterations_for(batch))->UseRealTime();
    }
  }
}

const bool registered = (register_all(), true);

}  // namespace
}  // namespace sluice::bench
