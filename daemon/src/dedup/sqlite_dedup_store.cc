#include "dedup/sqlite_dedup_store.h"

#include <pthread.h>
#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <utility>

#include "common/assert.h"
#include "common/log.h"

namespace sluice::dedup {
namespace {

// How long a statement waits for a lock held by another connection (an operator's sqlite3
// shell, a backup) before failing; the engine thread is blocked meanwhile.
constexpr int kBusyTimeoutMs = 1000;

// Per connection. Random keys make a write dirty about one B-tree page per row, so:
// - cache_size (negative: KiB) keeps the pages touched by successive flushes in memory;
// - wal_autocheckpoint (pages) checkpoints, with its two fsyncs, after ~40 MiB of WAL instead
//   of the default 4 MiB, which is about every flush of 1000 rows; pages rewritten in
//   between are copied back once;
// - journal_size_limit (bytes) truncates the WAL after a checkpoint so the file does not
//   keep its peak size.
constexpr char kConnectionSetup[] =
    "PRAGMA synchronous=NORMAL;"
    "PRAGMA cache_size=-65536;"
    "PRAGMA wal_autocheckpoint=10000;"
    "PRAGMA journal_size_limit=67108864;";

constexpr char kCreateTable[] =
    "CREATE TABLE IF NOT EXISTS sluice_fingerprints("
    "  fingerprint BLOB PRIMARY KEY,"
    "  expires_at INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS sluice_fingerprints_expires_at ON sluice_fingerprints(expires_at);";

constexpr int kFingerprintSize = static_cast<int>(sizeof(Fingerprint{}.bytes));

[[noreturn]] void fail_open(const std::string& path, std::string_view why) {
  throw std::runtime_error("cannot open dedup database " + path + ": " + std::string(why));
}

}  // namespace

void SqliteDedupStore::DatabaseCloser::operator()(sqlite3* db) const { sqlite3_close_v2(db); }

void SqliteDedupStore::StatementFinalizer::operator()(sqlite3_stmt* statement) const {
  sqlite3_finalize(statement);
}

SqliteDedupStore::SqliteDedupStore(std::string path, std::chrono::milliseconds window, NowFn now)
    : path_(std::move(path)), window_ms_(window.count()), now_(std::move(now)) {
  SLUICE_ASSERT(window.count() > 0, "the config key table rejects a non-positive dedup window");
  // An empty name would silently give a private temporary database.
  if (path_.empty()) fail_open(path_, "dedup.sqlite_path is empty");

  const std::filesystem::path parent = std::filesystem::path(path_).parent_path();
  if (!parent.empty()) {
    std::error_code error;
    std::filesystem::create_directories(parent, error);
    if (error) fail_open(path_, "cannot create directory " + parent.string() + ": " + error.message());
  }

  // The writer's connection first: it creates the file and the table.
  writer_ = open_connection();
  char* message = nullptr;
  if (sqlite3_exec(writer_.get(), kCreateTable, nullptr, nullptr, &message) != SQLITE_OK) {
    const std::string why = message != nullptr ? message : sqlite3_errmsg(writer_.get());
    sqlite3_free(message);
    fail_open(path_, why);
  }
  // IMMEDIATE takes the write lock up front, so a write fails (or waits) before doing work.
  begin_write_ = prepare(writer_.get(), "BEGIN IMMEDIATE");
  commit_write_ = prepare(writer_.get(), "COMMIT");
  rollback_write_ = prepare(writer_.get(), "ROLLBACK");
  upsert_ = prepare(writer_.get(), "INSERT OR REPLACE INTO sluice_fingerprints(fingerprint, expires_at) VALUES (?1, ?2)");
  delete_expired_ = prepare(writer_.get(),
                            "DELETE FROM sluice_fingerprints WHERE fingerprint IN "
                            "(SELECT fingerprint FROM sluice_fingerprints WHERE expires_at <= ?1 LIMIT ?2)");

  reader_ = open_connection();
  begin_read_ = prepare(reader_.get(), "BEGIN");
  end_read_ = prepare(reader_.get(), "COMMIT");
  rollback_read_ = prepare(reader_.get(), "ROLLBACK");
  select_ = prepare(reader_.get(), "SELECT expires_at FROM sluice_fingerprints WHERE fingerprint = ?1");

  writer_thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "sluice-sqlite");
    writer_loop();
  });
}

SqliteDedupStore::~SqliteDedupStore() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  work_ready_.notify_one();
  writer_thread_.join();
}

SqliteDedupStore::DatabasePtr SqliteDedupStore::open_connection() {
  sqlite3* raw = nullptr;
  // NOMUTEX: each connection is used by one thread at a time (the writer's is prepared here
  // and used only by the writer thread afterwards), so SQLite's own mutex would be waste.
  const int rc = sqlite3_open_v2(path_.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                 nullptr);
  DatabasePtr db(raw);  // a handle comes back even when opening failed, and must be closed
  if (rc != SQLITE_OK) fail_open(path_, raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc));
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, kBusyTimeoutMs);

  // WAL lets a write append its pages instead of rewriting the database and a journal, and
  // lets the engine thread read meanwhile. The pragma answers with the mode actually in
  // effect; some filesystems cannot do WAL.
  {
    StatementPtr journal_mode = prepare(raw, "PRAGMA journal_mode=WAL");
    const int step = sqlite3_step(journal_mode.get());
    if (step != SQLITE_ROW) fail_open(path_, sqlite3_errmsg(raw));
    const auto* mode = reinterpret_cast<const char*>(sqlite3_column_text(journal_mode.get(), 0));
    if (mode == nullptr || std::string_view(mode) != "wal") {
      log::warn("dedup database not in wal mode",
                {{"path", path_}, {"journal_mode", mode != nullptr ? mode : ""}});
    }
  }
  char* message = nullptr;
  if (sqlite3_exec(raw, kConnectionSetup, nullptr, nullptr, &message) != SQLITE_OK) {
    const std::string why = message != nullptr ? message : sqlite3_errmsg(raw);
    sqlite3_free(message);
    fail_open(path_, why);
  }
  return db;
}

// ---- engine thread ----------------------------------------------------------------------

void SqliteDedupStore::reserve(std::span<const Fingerprint> fingerprints, std::vector<ReserveStatus>& out) {
  out.resize(fingerprints.size());
  const int64_t now = now_();

  // First what memory knows; Reserved marks, for now, "ask the database".
  bool ask_database = false;
  for (size_t i = 0; i < fingerprints.size(); ++i) {
    const Fingerprint& fingerprint = fingerprints[i];
    if (reserved_.contains(fingerprint)) {
      out[i] = ReserveStatus::Busy;
      continue;
    }
    const int64_t* queued = pending_.find(fingerprint);
    if (queued == nullptr && write_outstanding_) queued = being_written_.find(fingerprint);
    if (queued != nullptr && *queued > now) {
      out[i] = ReserveStatus::Duplicate;
      continue;
    }
    out[i] = ReserveStatus::Reserved;
    ask_database = true;
  }

  if (ask_database) {
    const int rc = look_up(fingerprints, out, now);
    if (rc != SQLITE_OK) {
      log_failure(StoreOperation::Reserve, rc, sqlite3_errmsg(reader_.get()));
      rollback_if_open(reader_.get(), rollback_read_.get());
      out.assign(fingerprints.size(), ReserveStatus::Unavailable);
      return;
    }
  }

  for (size_t i = 0; i < fingerprints.size(); ++i) {
    // A second copy within the same batch finds the first one's reservation.
    if (out[i] == ReserveStatus::Reserved && !reserved_.insert(fingerprints[i])) {
      out[i] = ReserveStatus::Busy;
    }
  }
}

int SqliteDedupStore::look_up(std::span<const Fingerprint> fingerprints, std::vector<ReserveStatus>& out,
                              int64_t now) {
  // One read transaction for the batch: one snapshot, and the WAL read lock taken once.
  int rc = run(begin_read_.get());
  if (rc != SQLITE_DONE) return rc;
  sqlite3_stmt* select = select_.get();
  for (size_t i = 0; i < fingerprints.size(); ++i) {
    if (out[i] != ReserveStatus::Reserved) continue;
    sqlite3_bind_blob(select, 1, fingerprints[i].bytes.data(), kFingerprintSize, SQLITE_STATIC);
    rc = sqlite3_step(select);
    // A row whose expiry has passed is as good as no row, whether or not expire() ran.
    if (rc == SQLITE_ROW && sqlite3_column_int64(select, 0) > now) out[i] = ReserveStatus::Duplicate;
    sqlite3_reset(select);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return rc;
  }
  rc = run(end_read_.get());
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

void SqliteDedupStore::confirm(std::span<const Fingerprint> fingerprints) {
  const int64_t expires_at = now_() + window_ms_;
  for (const Fingerprint& fingerprint : fingerprints) {
    reserved_.erase(fingerprint);
    pending_.insert_or_assign(fingerprint, expires_at);
  }
}

void SqliteDedupStore::release(std::span<const Fingerprint> fingerprints) {
  for (const Fingerprint& fingerprint : fingerprints) reserved_.erase(fingerprint);
}

void SqliteDedupStore::set_wake(std::function<void()> wake) {
  std::lock_guard<std::mutex> lock(mutex_);
  wake_ = std::move(wake);
}

uint64_t SqliteDedupStore::request_flush() {
  ++issued_ticket_;
  hold_after_failure_ = false;
  collect_write(false);
  if (!write_outstanding_) hand_over(issued_ticket_);
  return issued_ticket_;
}

uint64_t SqliteDedupStore::durable_ticket() {
  collect_write(false);
  // A flush requested while the writer was busy goes now.
  if (!write_outstanding_ && !hold_after_failure_ && durable_ticket_ < issued_ticket_) hand_over(issued_ticket_);
  return durable_ticket_;
}

bool SqliteDedupStore::flush() {
  const uint64_t ticket = request_flush();
  for (;;) {
    collect_write(true);
    if (durable_ticket_ >= ticket) return true;
    if (hold_after_failure_) return false;
    hand_over(issued_ticket_);  // the writer was busy with an older ticket
  }
}

void SqliteDedupStore::hand_over(uint64_t ticket) {
  SLUICE_ASSERT(!write_outstanding_, "one write at a time");
  if (pending_.empty()) {
    durable_ticket_ = std::max(durable_ticket_, ticket);
    return;
  }
  std::swap(pending_, being_written_);  // being_written_ was empty: collect_write() cleared it
  {
    std::lock_guard<std::mutex> lock(mutex_);
    write_requested_ = true;
    write_ticket_ = ticket;
  }
  write_outstanding_ = true;
  work_ready_.notify_one();
}

void SqliteDedupStore::collect_write(bool wait) {
  if (!write_outstanding_) return;
  int result = SQLITE_OK;
  uint64_t ticket = 0;
  std::string error;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    if (wait) work_done_.wait(lock, [this] { return write_finished_; });
    if (!write_finished_) return;
    write_finished_ = false;
    result = write_result_;
    ticket = write_ticket_;
    error = std::move(write_error_);
  }
  write_outstanding_ = false;
  if (result == SQLITE_OK) {
    durable_ticket_ = std::max(durable_ticket_, ticket);
    mark_healthy();
  } else {
    log_failure(StoreOperation::Flush, result, error);
    mark_unhealthy(now_());
    hold_after_failure_ = true;
    // Back into the queue, where a newer confirmation of the same fingerprint wins.
    being_written_.for_each(
        [this](const Fingerprint& fingerprint, int64_t expires_at) { pending_.try_emplace(fingerprint, expires_at); });
  }
  being_written_.clear();
}

void SqliteDedupStore::expire() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    expire_requested_at_ = now_();
  }
  work_ready_.notify_one();
}

void SqliteDedupStore::wait_until_idle() {
  std::unique_lock<std::mutex> lock(mutex_);
  work_done_.wait(lock, [this] { return !writer_busy_ && !write_requested_ && !expire_requested_at_; });
}

// ---- writer thread ------------------------------------------------------------------------

void SqliteDedupStore::writer_loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    work_ready_.wait(lock, [this] { return stopping_ || write_requested_ || expire_requested_at_; });
    if (stopping_) return;
    writer_busy_ = true;
    if (write_requested_) {
      // Writes go before expiries: a commit is waiting for them.
      write_requested_ = false;
      lock.unlock();
      const int result = write_batch();
      std::string error = result == SQLITE_OK ? std::string() : sqlite3_errmsg(writer_.get());
      lock.lock();
      write_result_ = result;
      write_error_ = std::move(error);
      write_finished_ = true;
      writer_busy_ = false;
      std::function<void()> wake = wake_;
      lock.unlock();
      work_done_.notify_all();
      if (wake) wake();
      lock.lock();
    } else {
      const int64_t now = *expire_requested_at_;
      expire_requested_at_.reset();
      lock.unlock();
      delete_expired(now);
      lock.lock();
      writer_busy_ = false;
      work_done_.notify_all();
    }
  }
}

int SqliteDedupStore::write_batch() {
  int rc = run(begin_write_.get());
  if (rc != SQLITE_DONE) return rc;
  sqlite3_stmt* upsert = upsert_.get();
  rc = SQLITE_DONE;
  being_written_.for_each([&](const Fingerprint& fingerprint, int64_t expires_at) {
    if (rc != SQLITE_DONE) return;
    sqlite3_bind_blob(upsert, 1, fingerprint.bytes.data(), kFingerprintSize, SQLITE_STATIC);
    sqlite3_bind_int64(upsert, 2, expires_at);
    rc = run(upsert);
  });
  if (rc == SQLITE_DONE) rc = run(commit_write_.get());
  if (rc == SQLITE_DONE) return SQLITE_OK;
  rollback_if_open(writer_.get(), rollback_write_.get());
  return rc;
}

void SqliteDedupStore::delete_expired(int64_t now) {
  const auto deadline = std::chrono::steady_clock::now() + kExpireBudget;
  sqlite3_stmt* remove = delete_expired_.get();
  sqlite3_bind_int64(remove, 1, now);
  sqlite3_bind_int64(remove, 2, kExpireChunkRows);
  // Each chunk commits on its own, so the write lock and the WAL growth stay small.
  for (;;) {
    const int rc = run(remove);
    if (rc != SQLITE_DONE) {
      log_failure(StoreOperation::Expire, rc, sqlite3_errmsg(writer_.get()));
      return;
    }
    if (sqlite3_changes64(writer_.get()) < kExpireChunkRows) return;
    if (std::chrono::steady_clock::now() >= deadline) return;
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_ || write_requested_) return;  // the rest goes on the next call
  }
}

// ---- both -------------------------------------------------------------------------------

SqliteDedupStore::StatementPtr SqliteDedupStore::prepare(sqlite3* db, const char* sql) {
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &statement, nullptr) != SQLITE_OK) {
    fail_open(path_, sqlite3_errmsg(db));
  }
  return StatementPtr(statement);
}

int SqliteDedupStore::run(sqlite3_stmt* statement) {
  const int rc = sqlite3_step(statement);
  sqlite3_reset(statement);
  return rc;
}

void SqliteDedupStore::rollback_if_open(sqlite3* db, sqlite3_stmt* rollback) {
  // Some errors (SQLITE_FULL, SQLITE_IOERR) already rolled the transaction back.
  if (sqlite3_get_autocommit(db) == 0) run(rollback);
}

void SqliteDedupStore::log_failure(StoreOperation operation, int code, const std::string& error) {
  // From either thread: the logger serializes lines, the counter and the observer are
  // thread-safe.
  ++failed_calls_;
  note_failure(operation);
  log::warn("dedup database call failed", {{"backend", "sqlite"},
                                           {"operation", operation_name(operation)},
                                           {"path", path_},
                                           {"code", code},
                                           {"error", error}});
}

}  // namespace sluice::dedup
