#include "dedup/sqlite_dedup_store.h"

#include <sqlite3.h>

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

// Random keys make a flush dirty about one B-tree page per row, so:
// - cache_size (negative: KiB) keeps the pages touched by successive flushes in memory;
// - wal_autocheckpoint (pages) checkpoints, with its two fsyncs, after ~40 MiB of WAL instead
//   of the default 4 MiB, which is about every flush of 1000 rows; pages rewritten in
//   between are copied back once;
// - journal_size_limit (bytes) truncates the WAL after a checkpoint so the file does not
//   keep its peak size.
constexpr char kSetup[] =
    "PRAGMA synchronous=NORMAL;"
    "PRAGMA cache_size=-65536;"
    "PRAGMA wal_autocheckpoint=10000;"
    "PRAGMA journal_size_limit=67108864;"
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

  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                 nullptr);
  db_.reset(db);  // a handle comes back even when opening failed, and must be closed
  if (rc != SQLITE_OK) fail_open(path_, db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, kBusyTimeoutMs);

  // WAL lets a flush append its pages instead of rewriting the database and a journal. The
  // pragma answers with the mode actually in effect; some filesystems cannot do WAL.
  {
    StatementPtr journal_mode = prepare("PRAGMA journal_mode=WAL");
    const int step = sqlite3_step(journal_mode.get());
    if (step != SQLITE_ROW) fail_open(path_, sqlite3_errmsg(db));
    const auto* mode = reinterpret_cast<const char*>(sqlite3_column_text(journal_mode.get(), 0));
    if (mode == nullptr || std::string_view(mode) != "wal") {
      log::warn("dedup database not in wal mode",
                {{"path", path_}, {"journal_mode", mode != nullptr ? mode : ""}});
    }
  }
  char* message = nullptr;
  if (sqlite3_exec(db, kSetup, nullptr, nullptr, &message) != SQLITE_OK) {
    const std::string why = message != nullptr ? message : sqlite3_errmsg(db);
    sqlite3_free(message);
    fail_open(path_, why);
  }

  begin_read_ = prepare("BEGIN");
  // IMMEDIATE takes the write lock up front, so a flush fails (or waits) before doing work.
  begin_write_ = prepare("BEGIN IMMEDIATE");
  commit_ = prepare("COMMIT");
  rollback_ = prepare("ROLLBACK");
  select_ = prepare("SELECT expires_at FROM sluice_fingerprints WHERE fingerprint = ?1");
  upsert_ = prepare("INSERT OR REPLACE INTO sluice_fingerprints(fingerprint, expires_at) VALUES (?1, ?2)");
  delete_expired_ = prepare(
      "DELETE FROM sluice_fingerprints WHERE fingerprint IN "
      "(SELECT fingerprint FROM sluice_fingerprints WHERE expires_at <= ?1 LIMIT ?2)");
}

SqliteDedupStore::~SqliteDedupStore() = default;

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
      log_failure("reserve", rc);
      rollback_if_open();
      ++failed_calls_;
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
  rc = run(commit_.get());
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

bool SqliteDedupStore::flush() {
  if (pending_.empty()) return true;
  const int rc = write_pending();
  if (rc != SQLITE_OK) {
    log_failure("flush", rc);
    rollback_if_open();
    ++failed_calls_;
    return false;
  }
  pending_.clear();
  return true;
}

int SqliteDedupStore::write_pending() {
  int rc = run(begin_write_.get());
  if (rc != SQLITE_DONE) return rc;
  sqlite3_stmt* upsert = upsert_.get();
  rc = SQLITE_DONE;
  pending_.for_each([&](const Fingerprint& fingerprint, int64_t expires_at) {
    if (rc != SQLITE_DONE) return;  // the transaction is rolled back by the caller
    sqlite3_bind_blob(upsert, 1, fingerprint.bytes.data(), kFingerprintSize, SQLITE_STATIC);
    sqlite3_bind_int64(upsert, 2, expires_at);
    rc = run(upsert);
  });
  if (rc != SQLITE_DONE) return rc;
  rc = run(commit_.get());
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

void SqliteDedupStore::expire() {
  const auto deadline = std::chrono::steady_clock::now() + kExpireBudget;
  sqlite3_stmt* remove = delete_expired_.get();
  sqlite3_bind_int64(remove, 1, now_());
  sqlite3_bind_int64(remove, 2, kExpireChunkRows);
  // Each chunk commits on its own, so the write lock and the WAL growth stay small.
  for (;;) {
    const int rc = run(remove);
    if (rc != SQLITE_DONE) {
      log_failure("expire", rc);
      ++failed_calls_;
      return;
    }
    if (sqlite3_changes64(db_.get()) < kExpireChunkRows) return;
    if (std::chrono::steady_clock::now() >= deadline) return;
  }
}

SqliteDedupStore::StatementPtr SqliteDedupStore::prepare(const char* sql) {
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v3(db_.get(), sql, -1, SQLITE_PREPARE_PERSISTENT, &statement, nullptr) != SQLITE_OK) {
    fail_open(path_, sqlite3_errmsg(db_.get()));
  }
  return StatementPtr(statement);
}

int SqliteDedupStore::run(sqlite3_stmt* statement) {
  const int rc = sqlite3_step(statement);
  sqlite3_reset(statement);
  return rc;
}

void SqliteDedupStore::rollback_if_open() {
  // Some errors (SQLITE_FULL, SQLITE_IOERR) already rolled the transaction back.
  if (sqlite3_get_autocommit(db_.get()) == 0) run(rollback_.get());
}

void SqliteDedupStore::log_failure(std::string_view operation, int code) {
  log::warn("dedup database call failed", {{"backend", "sqlite"},
                                           {"operation", operation},
                                           {"path", path_},
                                           {"code", code},
                                           {"error", sqlite3_errmsg(db_.get())},
                                           {"pending", pending_.size()}});
}

}  // namespace sluice::dedup
