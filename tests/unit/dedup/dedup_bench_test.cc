// Throughput of the whole protocol per message: reserve, confirm, flush. Hidden ([.bench]);
// run with `unit_dedup "[.bench]"` on an otherwise idle machine. The stores run on the system
// clock, so expiries advance as in production (which keeps the expires_at index append-only).

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <span>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "dedup/memory_dedup_store.h"
#include "dedup/sqlite_dedup_store.h"
#include "unit/dedup/dedup_test_helpers.h"

namespace sluice::dedup {
namespace {

using namespace std::chrono_literals;
using testing::count_of;
using testing::fingerprints_from;
using testing::TempDir;

constexpr std::chrono::milliseconds kWindow = 24h;
constexpr size_t kMessages = 100'000;
constexpr size_t kBatch = 1000;

struct Rate {
  double per_second;         // wall clock
  double per_thread_second;  // CPU time of this thread: what one engine core can do
};

double thread_cpu_seconds() {
  timespec now{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

// Messages per second through reserve + confirm for every batch, and a flush after every
// `batches_per_flush` batches (the engine flushes before each offset commit, so several
// batches may share one flush).
Rate measure(DedupStore& store, std::span<const Fingerprint> fingerprints, size_t batches_per_flush) {
  std::vector<ReserveStatus> statuses;
  size_t reserved = 0;
  size_t batches = 0;
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = thread_cpu_seconds();
  for (size_t offset = 0; offset < fingerprints.size(); offset += kBatch) {
    const auto batch = fingerprints.subspan(offset, std::min(kBatch, fingerprints.size() - offset));
    store.reserve(batch, statuses);
    reserved += count_of(statuses, ReserveStatus::Reserved);
    store.confirm(batch);
    if (++batches % batches_per_flush == 0) REQUIRE(store.flush());
  }
  REQUIRE(store.flush());
  const double cpu = thread_cpu_seconds() - cpu_start;
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  REQUIRE(reserved == fingerprints.size());
  const auto messages = static_cast<double>(fingerprints.size());
  return {messages / elapsed.count(), messages / cpu};
}

void report(const std::string& what, Rate rate) {
  std::printf("%-60s %9.0f msgs/s %9.0f msgs/cpu-s\n", what.c_str(), rate.per_second, rate.per_thread_second);
  std::fflush(stdout);
}

TEST_CASE("memory store throughput", "[dedup][.bench]") {
  MemoryDedupStore store(kWindow, 1'000'000);
  const std::vector<Fingerprint> fingerprints = fingerprints_from(0, kMessages);
  report("memory, batches of 1000", measure(store, fingerprints, 1));
}

TEST_CASE("sqlite store throughput", "[dedup][.bench]") {
  const size_t batches_per_flush = GENERATE(size_t{1}, size_t{10}, size_t{100});
  TempDir dir;
  SqliteDedupStore store((dir.path() / "dedup.db").string(), kWindow);
  const std::vector<Fingerprint> fingerprints = fingerprints_from(0, kMessages);
  report("sqlite, empty table, batches of 1000, flush every " + std::to_string(batches_per_flush),
         measure(store, fingerprints, batches_per_flush));
}

TEST_CASE("sqlite store throughput with a million rows stored", "[dedup][.bench]") {
  const size_t batches_per_flush = GENERATE(size_t{1}, size_t{10});
  TempDir dir;
  SqliteDedupStore store((dir.path() / "dedup.db").string(), kWindow);
  const std::vector<Fingerprint> existing = fingerprints_from(10'000'000, 1'000'000);
  store.confirm(existing);
  REQUIRE(store.flush());
  const std::vector<Fingerprint> fingerprints = fingerprints_from(0, kMessages);
  report("sqlite, 1M rows, batches of 1000, flush every " + std::to_string(batches_per_flush),
         measure(store, fingerprints, batches_per_flush));
}

}  // namespace
}  // namespace sluice::dedup
