#pragma once
// A dedup store in a local SQLite file, so the window survives a restart of the daemon.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "dedup/dedup_store.h"
#include "fingerprint/fingerprint_map.h"

struct sqlite3;
struct sqlite3_stmt;

namespace sluice::dedup {

// One connection to one database file, opened at construction (creating the file and its
// parent directories if missing) and closed at destruction. Table:
//
//   sluice_fingerprints(fingerprint BLOB PRIMARY KEY, expires_at INTEGER NOT NULL) WITHOUT ROWID
//
// confirm() only queues entries in memory, where reserve() already sees them; flush() writes
// the queue in one transaction, because a commit appends every page it dirtied to the WAL
// and rows committed together share pages. Fingerprints are random, though, so once the
// table is much larger than one flush each row dirties a page of its own: expect tens of
// thousands of messages per second per core, falling as the table grows (the [.bench] cases
// in tests/unit/dedup measure it). Queued entries not flushed before destruction are lost; that is safe, because the
// engine commits offsets only after a successful flush(), so their messages come back.
// With synchronous=NORMAL a committed flush survives a crash of the process; a power loss
// may undo the last ones, which at worst lets a duplicate through.
//
// Reservations live in memory only (one process owns the file): after a restart nothing is
// reserved, and the messages that were in flight are redelivered and reserved anew.
//
// Failures after construction (disk full, I/O errors) never throw: reserve() answers
// Unavailable for the whole batch, flush() returns false and keeps the queue, expire() stops
// early; each failing call logs one warning and is counted in failed_calls().
//
// Threading: engine thread only; the connection is opened without SQLite's own mutex.
class SqliteDedupStore final : public DedupStore {
 public:
  // Throws std::runtime_error naming `path` and SQLite's reason when the database cannot be
  // opened or prepared: a startup failure.
  SqliteDedupStore(std::string path, std::chrono::milliseconds window, NowFn now = system_now_ms);
  ~SqliteDedupStore() override;
  SqliteDedupStore(const SqliteDedupStore&) = delete;
  SqliteDedupStore& operator=(const SqliteDedupStore&) = delete;

  // DedupStore
  std::string_view backend_name() const override { return "sqlite"; }
  void reserve(std::span<const Fingerprint> fingerprints, std::vector<ReserveStatus>& out) override;
  void confirm(std::span<const Fingerprint> fingerprints) override;
  void release(std::span<const Fingerprint> fingerprints) override;
  bool flush() override;
  // Deletes expired rows in chunks of kExpireChunkRows, one transaction each, and stops once
  // kExpireBudget has passed, so the engine thread is never held much longer than that; what
  // is left goes on the next call. Deleting random keys costs about what inserting them did
  // (a page per row), so to keep up with a sustained rate the timer must leave expire() a
  // comparable share of the thread.
  void expire() override;

  static constexpr int64_t kExpireChunkRows = 1000;
  static constexpr std::chrono::milliseconds kExpireBudget{50};

  const std::string& path() const { return path_; }
  // Confirmed entries not yet written by flush().
  size_t pending() const { return pending_.size(); }
  size_t reservations() const { return reserved_.size(); }
  // reserve(), flush() and expire() calls that failed on a database error, since construction.
  int64_t failed_calls() const { return failed_calls_; }

 private:
  struct DatabaseCloser {
    void operator()(sqlite3* db) const;
  };
  struct StatementFinalizer {
    void operator()(sqlite3_stmt* statement) const;
  };
  using DatabasePtr = std::unique_ptr<sqlite3, DatabaseCloser>;
  using StatementPtr = std::unique_ptr<sqlite3_stmt, StatementFinalizer>;

  // Constructor only: throws like it.
  StatementPtr prepare(const char* sql);
  // Turns provisional Reserved answers into Duplicate where a live row exists. SQLITE_OK or
  // the failing result code, with a transaction possibly still open.
  int look_up(std::span<const Fingerprint> fingerprints, std::vector<ReserveStatus>& out, int64_t now);
  // Writes pending_ in one transaction. SQLITE_OK or the failing result code, as look_up().
  int write_pending();
  // Steps a statement that returns no rows and resets it; the SQLite result code.
  int run(sqlite3_stmt* statement);
  void rollback_if_open();
  void log_failure(std::string_view operation, int code);

  const std::string path_;
  const int64_t window_ms_;
  const NowFn now_;
  // Declared before the statements so that they are finalized before it is closed.
  DatabasePtr db_;
  StatementPtr begin_read_;
  StatementPtr begin_write_;
  StatementPtr commit_;
  StatementPtr rollback_;
  StatementPtr select_;
  StatementPtr upsert_;
  StatementPtr delete_expired_;

  fingerprint::FingerprintMap<int64_t> pending_;
  fingerprint::FingerprintSet reserved_;
  int64_t failed_calls_ = 0;
};

}  // namespace sluice::dedup
