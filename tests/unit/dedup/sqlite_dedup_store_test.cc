#include "dedup/sqlite_dedup_store.h"

#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

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

constexpr std::chrono::milliseconds kWindow = 1h;

// A second connection to the store's file, standing for an operator or a fault.
class Inspector {
 public:
  explicit Inspector(const std::string& path) {
    sqlite3* db = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr);
    db_.reset(db);
    if (rc != SQLITE_OK) FAIL("cannot open " << path);
  }

  int64_t rows() { return single_integer("SELECT count(*) FROM sluice_fingerprints"); }
  int64_t expired_rows(int64_t now_ms) {
    return single_integer("SELECT count(*) FROM sluice_fingerprints WHERE expires_at <= " + std::to_string(now_ms));
  }
  void exec(const std::string& sql) {
    char* message = nullptr;
    const int rc = sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, &message);
    const std::string why = message != nullptr ? message : "";
    sqlite3_free(message);
    INFO(why);
    REQUIRE(rc == SQLITE_OK);
  }

 private:
  struct Closer {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
  };

  int64_t single_integer(const std::string& sql) {
    sqlite3_stmt* statement = nullptr;
    REQUIRE(sqlite3_prepare_v2(db_.get(), sql.c_str(), -1, &statement, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(statement) == SQLITE_ROW);
    const int64_t value = sqlite3_column_int64(statement, 0);
    sqlite3_finalize(statement);
    return value;
  }

  std::unique_ptr<sqlite3, Closer> db_;
};

// Becomes SQLite's default VFS while it lives, forwarding everything to the previous default,
// except that while `full` is set every write fails with SQLITE_FULL, as on a full disk.
class DiskFullVfs {
 public:
  DiskFullVfs() : base_(sqlite3_vfs_find(nullptr)) {
    vfs_ = *base_;
    vfs_.szOsFile = static_cast<int>(sizeof(File)) + base_->szOsFile;
    vfs_.zName = "sluice-test-disk-full";
    vfs_.pAppData = this;
    vfs_.xOpen = &DiskFullVfs::open;
    REQUIRE(sqlite3_vfs_register(&vfs_, 1) == SQLITE_OK);
  }
  ~DiskFullVfs() {
    sqlite3_vfs_unregister(&vfs_);
    sqlite3_vfs_register(base_, 1);
  }
  DiskFullVfs(const DiskFullVfs&) = delete;
  DiskFullVfs& operator=(const DiskFullVfs&) = delete;

  // Read by the store's writer thread.
  std::atomic<bool> full{false};

 private:
  // The base VFS's own file object follows this header in the same allocation.
  struct File {
    sqlite3_file header;
    DiskFullVfs* owner;
  };
  static File* outer(sqlite3_file* file) { return reinterpret_cast<File*>(file); }
  static sqlite3_file* inner(sqlite3_file* file) { return reinterpret_cast<sqlite3_file*>(outer(file) + 1); }

  static int open(sqlite3_vfs* vfs, const char* name, sqlite3_file* file, int flags, int* out_flags) {
    auto* self = static_cast<DiskFullVfs*>(vfs->pAppData);
    outer(file)->owner = self;
    const int rc = self->base_->xOpen(self->base_, name, inner(file), flags, out_flags);
    // xClose is called exactly when pMethods is set, so mirror the inner file.
    file->pMethods = inner(file)->pMethods != nullptr ? &kMethods : nullptr;
    return rc;
  }

  static int write(sqlite3_file* file, const void* data, int size, sqlite3_int64 offset) {
    if (outer(file)->owner->full) return SQLITE_FULL;
    return inner(file)->pMethods->xWrite(inner(file), data, size, offset);
  }

  // Every other method forwards unchanged.
  template <auto Member, typename... Args>
  static int forward(sqlite3_file* file, Args... args) {
    return (inner(file)->pMethods->*Member)(inner(file), args...);
  }
  static void shm_barrier(sqlite3_file* file) { inner(file)->pMethods->xShmBarrier(inner(file)); }

  static constexpr sqlite3_io_methods kMethods = {
      3,
      &forward<&sqlite3_io_methods::xClose>,
      &forward<&sqlite3_io_methods::xRead, void*, int, sqlite3_int64>,
      &write,
      &forward<&sqlite3_io_methods::xTruncate, sqlite3_int64>,
      &forward<&sqlite3_io_methods::xSync, int>,
      &forward<&sqlite3_io_methods::xFileSize, sqlite3_int64*>,
      &forward<&sqlite3_io_methods::xLock, int>,
      &forward<&sqlite3_io_methods::xUnlock, int>,
      &forward<&sqlite3_io_methods::xCheckReservedLock, int*>,
      &forward<&sqlite3_io_methods::xFileControl, int, void*>,
      &forward<&sqlite3_io_methods::xSectorSize>,
      &forward<&sqlite3_io_methods::xDeviceCharacteristics>,
      &forward<&sqlite3_io_methods::xShmMap, int, int, int, void volatile**>,
      &forward<&sqlite3_io_methods::xShmLock, int, int, int>,
      &shm_barrier,
      &forward<&sqlite3_io_methods::xShmUnmap, int>,
      &forward<&sqlite3_io_methods::xFetch, sqlite3_int64, int, void**>,
      &forward<&sqlite3_io_methods::xUnfetch, sqlite3_int64, void*>,
  };

  sqlite3_vfs* base_;
  sqlite3_vfs vfs_;
};

// Counts the store's wake calls (made on its writer thread) and lets the test wait for them.
class WakeRecorder {
 public:
  std::function<void()> wake() {
    return [this] {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        ++wakes_;
      }
      changed_.notify_all();
    };
  }

  int wakes() {
    std::lock_guard<std::mutex> lock(mutex_);
    return wakes_;
  }

  // Checks `done` now and after every wake until it holds; false after a generous deadline.
  bool wait_until(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      const int seen = wakes_;
      lock.unlock();
      if (done()) return true;
      lock.lock();
      if (!changed_.wait_until(lock, deadline, [&] { return wakes_ != seen; })) return false;
    }
  }

  bool wait_for_durable(SqliteDedupStore& store, uint64_t ticket) {
    return wait_until([&] { return store.durable_ticket() >= ticket; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int wakes_ = 0;
};

// A store whose wakes are recorded, and a second connection to its file.
struct WriterFixture {
  WriterFixture() { store.set_wake(recorder.wake()); }

  TempDir dir;
  ManualClock clock;
  const std::string path = (dir.path() / "dedup.db").string();
  // Before the store, so that it outlives the writer thread that calls it.
  WakeRecorder recorder;
  SqliteDedupStore store{path, kWindow, clock.fn()};
  Inspector inspector{path};
};

TEST_CASE_METHOD(WriterFixture, "a requested flush is written on the writer thread, which wakes the caller",
                 "[dedup][sqlite][writer]") {
  const std::vector<Fingerprint> batch = fingerprints_from(1, 500);
  reserve(store, batch);
  store.confirm(batch);

  const uint64_t ticket = store.request_flush();

  REQUIRE(recorder.wait_for_durable(store, ticket));
  CHECK(recorder.wakes() >= 1);
  CHECK(store.pending() == 0);
  CHECK(inspector.rows() == 500);
  CHECK(count_of(reserve(store, batch), Status::Duplicate) == batch.size());
  // Nothing new confirmed: the next ticket is durable at once, without the writer.
  CHECK(store.durable_ticket() >= store.request_flush());
}

TEST_CASE_METHOD(WriterFixture, "entries being written are duplicates, and a failed write puts them back",
                 "[dedup][sqlite][writer]") {
  const std::vector<Fingerprint> batch = fingerprints_from(1, 100);
  reserve(store, batch);
  store.confirm(batch);

  // Another connection holds the write lock longer than the writer's busy timeout.
  inspector.exec("BEGIN IMMEDIATE");
  const uint64_t ticket = store.request_flush();
  CHECK(store.durable_ticket() < ticket);
  CHECK(count_of(reserve(store, batch), Status::Duplicate) == batch.size());
  // durable_ticket() takes the writer's answer: a failure.
  REQUIRE(recorder.wait_until([&] { return store.durable_ticket() < ticket && store.failed_calls() == 1; }));
  CHECK(store.durable_ticket() < ticket);
  CHECK(store.pending() == batch.size());
  CHECK(count_of(reserve(store, batch), Status::Duplicate) == batch.size());
  inspector.exec("COMMIT");
  CHECK(inspector.rows() == 0);

  // The failure is not retried on its own; the next request writes everything.
  const uint64_t retry = store.request_flush();
  REQUIRE(recorder.wait_for_durable(store, retry));
  CHECK(store.durable_ticket() >= ticket);
  CHECK(inspector.rows() == 100);
  CHECK(store.failed_calls() == 1);
}

TEST_CASE_METHOD(WriterFixture, "a flush requested while the writer is busy is written when it finishes",
                 "[dedup][sqlite][writer]") {
  const std::vector<Fingerprint> first = fingerprints_from(1, 100);
  const std::vector<Fingerprint> second = fingerprints_from(1000, 100);
  reserve(store, first);
  store.confirm(first);

  // Held briefly (well within the writer's busy timeout), so the first write waits for it.
  inspector.exec("BEGIN IMMEDIATE");
  const uint64_t first_ticket = store.request_flush();
  reserve(store, second);
  store.confirm(second);
  const uint64_t second_ticket = store.request_flush();
  CHECK(store.pending() == first.size() + second.size());
  CHECK(store.durable_ticket() < first_ticket);
  inspector.exec("COMMIT");

  REQUIRE(recorder.wait_for_durable(store, second_ticket));
  CHECK(inspector.rows() == 200);
  CHECK(store.failed_calls() == 0);
}

TEST_CASE("confirmed fingerprints survive closing and reopening the database", "[dedup][sqlite]") {
  TempDir dir;
  ManualClock clock;
  const std::string path = (dir.path() / "dedup.db").string();
  const std::vector<Fingerprint> flushed = fingerprints_from(1, 100);
  const std::vector<Fingerprint> unflushed = fingerprints_from(1000, 100);
  {
    SqliteDedupStore store(path, kWindow, clock.fn());
    reserve(store, flushed);
    store.confirm(flushed);
    REQUIRE(store.flush());
    // Confirmed after the last flush: their offsets were never committed, so their
    // messages come back and must not be taken for duplicates.
    reserve(store, unflushed);
    store.confirm(unflushed);
  }

  clock.advance(kWindow / 2);
  SqliteDedupStore reopened(path, kWindow, clock.fn());
  CHECK(count_of(reserve(reopened, flushed), Status::Duplicate) == flushed.size());
  CHECK(count_of(reserve(reopened, unflushed), Status::Reserved) == unflushed.size());
}

TEST_CASE("an expired row left in the file does not block", "[dedup][sqlite]") {
  TempDir dir;
  ManualClock clock;
  const std::string path = (dir.path() / "dedup.db").string();
  const std::vector<Fingerprint> one{fingerprint_of(5)};
  {
    SqliteDedupStore store(path, kWindow, clock.fn());
    reserve(store, one);
    store.confirm(one);
    REQUIRE(store.flush());
  }

  clock.advance(kWindow);
  SqliteDedupStore reopened(path, kWindow, clock.fn());
  REQUIRE(Inspector(path).rows() == 1);
  CHECK(reserve(reopened, one) == std::vector{Status::Reserved});
}

TEST_CASE("confirmed fingerprints are duplicates before they are flushed", "[dedup][sqlite]") {
  TempDir dir;
  ManualClock clock;
  const std::string path = (dir.path() / "dedup.db").string();
  SqliteDedupStore store(path, kWindow, clock.fn());
  Inspector inspector(path);
  const std::vector<Fingerprint> batch = fingerprints_from(1, 10);
  reserve(store, batch);

  store.confirm(batch);

  CHECK(store.pending() == batch.size());
  CHECK(inspector.rows() == 0);
  CHECK(count_of(reserve(store, batch), Status::Duplicate) == batch.size());
  REQUIRE(store.flush());
  CHECK(store.pending() == 0);
  CHECK(inspector.rows() == 10);
}

TEST_CASE("a flush that fails on a full disk keeps its queue for the next flush", "[dedup][sqlite]") {
  TempDir dir;
  ManualClock clock;
  const std::string path = (dir.path() / "dedup.db").string();
  DiskFullVfs disk;
  SqliteDedupStore store(path, kWindow, clock.fn());
  // The observer feeds sluice_dedup_store_errors_total; it may be called from either thread.
  std::atomic<int> failed_flushes{0};
  std::atomic<int> other_failures{0};
  store.set_failure_observer([&](StoreOperation operation) {
    (operation == StoreOperation::Flush ? failed_flushes : other_failures) += 1;
  });
  const std::vector<Fingerprint> batch = fingerprints_from(1, 1000);
  reserve(store, batch);
  store.confirm(batch);
  CHECK(store.healthy());

  disk.full = true;
  clock.advance(std::chrono::seconds(1));
  CHECK_FALSE(store.flush());
  CHECK(store.failed_calls() == 1);
  CHECK(failed_flushes == 1);
  CHECK(other_failures == 0);
  CHECK_FALSE(store.healthy());
  CHECK(store.unhealthy_since_ms() == clock.fn()());
  CHECK(store.pending() == batch.size());
  CHECK(count_of(reserve(store, batch), Status::Duplicate) == batch.size());
  CHECK(reserve(store, std::vector{fingerprint_of(5000)}) == std::vector{Status::Reserved});
  CHECK(Inspector(path).rows() == 0);

  disk.full = false;
  CHECK(store.flush());
  CHECK(store.pending() == 0);
  CHECK(Inspector(path).rows() == 1000);
  CHECK(store.failed_calls() == 1);
  CHECK(failed_flushes == 1);
  CHECK(store.healthy());
  CHECK(store.unhealthy_since_ms() == 0);
}

TEST_CASE("reserve answers unavailable for the whole batch when the database fails", "[dedup][sqlite]") {
  TempDir dir;
  ManualClock clock;
  const std::string path = (dir.path() / "dedup.db").string();
  SqliteDedupStore store(path, kWindow, clock.fn());
  Inspector inspector(path);
  const std::vector<Fingerprint> batch = fingerprints_from(1, 5);

  inspector.exec("ALTER TABLE sluice_fingerprints RENAME TO moved_away");
  CHECK(count_of(reserve(store, batch), Status::Unavailable) == batch.size());
  CHECK(store.reservations() == 0);
  CHECK(store.failed_calls() == 1);

  inspector.exec("ALTER TABLE moved_away RENAME TO sluice_fingerprints");
  CHECK(count_of(reserve(store, batch), Status::Reserved) == batch.size());
}

TEST_CASE("expire() deletes the expired rows and only those", "[dedup][sqlite][expire]") {
  TempDir dir;
  ManualClock clock;
  const std::string path = (dir.path() / "dedup.db").string();
  SqliteDedupStore store(path, kWindow, clock.fn());
  Inspector inspector(path);
  // More than one chunk of expired rows.
  const std::vector<Fingerprint> early = fingerprints_from(1, SqliteDedupStore::kExpireChunkRows * 2 + 100);
  const std::vector<Fingerprint> late = fingerprints_from(100'000, 500);
  reserve(store, early);
  store.confirm(early);
  REQUIRE(store.flush());
  clock.advance(kWindow / 2);
  reserve(store, late);
  store.confirm(late);
  REQUIRE(store.flush());
  clock.advance(kWindow / 2);

  store.expire();
  store.wait_until_idle();
  // Within the time budget at least the first chunk goes; later calls finish the rest.
  CHECK(inspector.expired_rows(clock.now_ms()) <= static_cast<int64_t>(early.size()) - SqliteDedupStore::kExpireChunkRows);
  for (int call = 0; call < 10 && inspector.expired_rows(clock.now_ms()) > 0; ++call) {
    store.expire();
    store.wait_until_idle();
  }

  CHECK(inspector.expired_rows(clock.now_ms()) == 0);
  CHECK(inspector.rows() == static_cast<int64_t>(late.size()));
  CHECK(count_of(reserve(store, late), Status::Duplicate) == late.size());
  CHECK(store.failed_calls() == 0);
}

TEST_CASE("the sqlite store creates missing parent directories", "[dedup][sqlite]") {
  TempDir dir;
  const std::filesystem::path path = dir.path() / "a" / "b" / "dedup.db";
  SqliteDedupStore store(path.string(), kWindow);
  CHECK(std::filesystem::is_regular_file(path));
}

TEST_CASE("a sqlite store that cannot be opened fails at construction, naming the path", "[dedup][sqlite]") {
  TempDir dir;
  const std::filesystem::path file = dir.path() / "plain-file";
  std::ofstream(file) << "not a database, and not a directory either\n";

  SECTION("a parent that is a file") {
    const std::string path = (file / "dedup.db").string();
    CHECK_THROWS_WITH(SqliteDedupStore(path, kWindow), Catch::Contains(path));
  }
  SECTION("a file that is not a database") {
    CHECK_THROWS_WITH(SqliteDedupStore(file.string(), kWindow),
                      Catch::Contains(file.string()) && Catch::Contains("not a database"));
  }
  SECTION("no path at all") {
    CHECK_THROWS_AS(SqliteDedupStore("", kWindow), std::runtime_error);
  }
}

}  // namespace
}  // namespace sluice::dedup
