// The reserve/confirm/release protocol, run against every local backend.

#include <chrono>
#include <filesystem>
#include <memory>
#include <vector>

#include <catch2/catch.hpp>

#include "config/config.h"
#include "dedup/dedup_store.h"
#include "dedup/memory_dedup_store.h"
#include "dedup/sqlite_dedup_store.h"
#include "unit/dedup/dedup_test_helpers.h"

namespace sluice::dedup {
namespace {

using namespace std::chrono_literals;
using testing::count_of;
using testing::fingerprint_of;
using testing::fingerprints_from;
using testing::ManualClock;
using testing::reserve;
using testing::TempDir;
using Status = ReserveStatus;

constexpr std::chrono::milliseconds kWindow = 10min;

struct MemoryBackend {
  ManualClock clock;
  MemoryDedupStore store{kWindow, 1'000'000, clock.fn()};
};

struct SqliteBackend {
  ManualClock clock;
  TempDir dir;
  SqliteDedupStore store{(dir.path() / "dedup.db").string(), kWindow, clock.fn()};
};

TEMPLATE_TEST_CASE("a new fingerprint is reserved, and busy while its reservation is held", "[dedup][protocol]",
                   MemoryBackend, SqliteBackend) {
  TestType backend;
  const std::vector<Fingerprint> one{fingerprint_of(1)};

  CHECK(reserve(backend.store, one) == std::vector{Status::Reserved});
  CHECK(reserve(backend.store, one) == std::vector{Status::Busy});
  CHECK(reserve(backend.store, std::vector{fingerprint_of(2)}) == std::vector{Status::Reserved});
}

TEMPLATE_TEST_CASE("a second copy within one batch is busy", "[dedup][protocol]", MemoryBackend, SqliteBackend) {
  TestType backend;
  const std::vector<Fingerprint> batch{fingerprint_of(1), fingerprint_of(2), fingerprint_of(1)};

  CHECK(reserve(backend.store, batch) == std::vector{Status::Reserved, Status::Reserved, Status::Busy});
}

TEMPLATE_TEST_CASE("a released fingerprint is not a duplicate when its message comes back", "[dedup][protocol]",
                   MemoryBackend, SqliteBackend) {
  TestType backend;
  const std::vector<Fingerprint> one{fingerprint_of(7)};

  REQUIRE(reserve(backend.store, one) == std::vector{Status::Reserved});
  backend.store.release(one);
  REQUIRE(backend.store.flush());

  CHECK(reserve(backend.store, one) == std::vector{Status::Reserved});
}

TEMPLATE_TEST_CASE("a confirmed fingerprint is a duplicate until its window has passed", "[dedup][protocol]",
                   MemoryBackend, SqliteBackend) {
  TestType backend;
  const std::vector<Fingerprint> one{fingerprint_of(3)};
  REQUIRE(reserve(backend.store, one) == std::vector{Status::Reserved});
  backend.store.confirm(one);

  CHECK(reserve(backend.store, one) == std::vector{Status::Duplicate});
  REQUIRE(backend.store.flush());
  CHECK(reserve(backend.store, one) == std::vector{Status::Duplicate});
  backend.clock.advance(kWindow - 1ms);
  CHECK(reserve(backend.store, one) == std::vector{Status::Duplicate});

  // Expired, and expire() has not run: the entry is still stored but no longer blocks.
  backend.clock.advance(1ms);
  CHECK(reserve(backend.store, one) == std::vector{Status::Reserved});
}

TEMPLATE_TEST_CASE("confirming an expired fingerprint again starts a new window", "[dedup][protocol]", MemoryBackend,
                   SqliteBackend) {
  TestType backend;
  const std::vector<Fingerprint> one{fingerprint_of(4)};
  reserve(backend.store, one);
  backend.store.confirm(one);
  REQUIRE(backend.store.flush());

  backend.clock.advance(kWindow + 5min);
  REQUIRE(reserve(backend.store, one) == std::vector{Status::Reserved});
  backend.store.confirm(one);
  REQUIRE(backend.store.flush());
  backend.store.expire();

  backend.clock.advance(kWindow - 1ms);
  backend.store.expire();
  CHECK(reserve(backend.store, one) == std::vector{Status::Duplicate});
}

TEMPLATE_TEST_CASE("expire() removes what has expired and keeps what has not", "[dedup][expire]", MemoryBackend,
                   SqliteBackend) {
  TestType backend;
  const std::vector<Fingerprint> early = fingerprints_from(100, 50);
  const std::vector<Fingerprint> late = fingerprints_from(200, 50);
  reserve(backend.store, early);
  backend.store.confirm(early);
  backend.clock.advance(kWindow / 2);
  reserve(backend.store, late);
  backend.store.confirm(late);
  REQUIRE(backend.store.flush());

  backend.clock.advance(kWindow / 2);
  backend.store.expire();

  CHECK(count_of(reserve(backend.store, late), Status::Duplicate) == late.size());
  CHECK(count_of(reserve(backend.store, early), Status::Reserved) == early.size());
}

TEMPLATE_TEST_CASE("whole batches keep the protocol", "[dedup][batch]", MemoryBackend, SqliteBackend) {
  const size_t size = GENERATE(size_t{1}, size_t{1000}, size_t{10000});
  TestType backend;
  const std::vector<Fingerprint> batch = fingerprints_from(size * 10, size);
  const size_t confirmed = (size + 1) / 2;
  const std::span<const Fingerprint> forwarded(batch.data(), confirmed);
  const std::span<const Fingerprint> failed(batch.data() + confirmed, size - confirmed);

  CHECK(count_of(reserve(backend.store, batch), Status::Reserved) == size);
  CHECK(count_of(reserve(backend.store, batch), Status::Busy) == size);
  backend.store.confirm(forwarded);
  backend.store.release(failed);
  REQUIRE(backend.store.flush());

  const std::vector<Status> again = reserve(backend.store, batch);
  REQUIRE(again.size() == size);
  CHECK(count_of(std::vector(again.begin(), again.begin() + confirmed), Status::Duplicate) == confirmed);
  CHECK(count_of(std::vector(again.begin() + confirmed, again.end()), Status::Reserved) == size - confirmed);
}

TEMPLATE_TEST_CASE("an empty batch gets an empty answer", "[dedup][batch]", MemoryBackend, SqliteBackend) {
  TestType backend;
  std::vector<Status> out{Status::Busy};
  backend.store.reserve({}, out);
  CHECK(out.empty());
  backend.store.confirm({});
  backend.store.release({});
  CHECK(backend.store.flush());
}

TEST_CASE("make_dedup_store builds the configured backend", "[dedup][factory]") {
  TempDir dir;
  ManualClock clock;
  config::DedupConfig config;
  config.window = kWindow;
  config.sqlite_path = (dir.path() / "nested" / "dedup.db").string();

  config.backend = config::DedupBackend::Memory;
  CHECK(make_dedup_store(config, clock.fn())->backend_name() == "memory");

  config.backend = config::DedupBackend::Sqlite;
  const DedupStorePtr store = make_dedup_store(config, clock.fn());
  CHECK(store->backend_name() == "sqlite");
  CHECK(std::filesystem::exists(config.sqlite_path));
}

}  // namespace
}  // namespace sluice::dedup
