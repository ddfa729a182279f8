#pragma once
// A dedup store in a local SQLite file, so the window survives a restart of the daemon.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "dedup/dedup_store.h"
#include "fingerprint/fingerprint_map.h"

struct sqlite3;
struct sqlite3_stmt;

namespace sluice::dedup {

// Two connections to one database file, opened at construction (creating the file and its
// parent directories if missing) and closed at destruction. Table:
//
//   sluice_fingerprints(fingerprint BLOB PRIMARY KEY, expires_at INTEGER NOT NULL) WITHOUT ROWID
//
// The engine thread's connection only reads (reserve()'s look-ups). Writes happen on a writer
// thread with a connection of its own, because they are slow: fingerprints are random, so
// once the table is much larger than one flush each row dirties a B-tree page of its own, and
// a second's worth of rows takes a few hundred milliseconds that used to stall the engine
// thread once per commit. WAL lets the engine thread read while the writer writes.
//
// confirm() queues entries in memory (pending), where reserve() already sees them.
// request_flush() hands the whole queue to the writer, which writes it in one transaction
// (rows committed together share WAL pages); while it writes, the handed entries (being
// written) are still consulted by reserve(), so nothing is ever unknown between the queue and
// the file. A flush requested while the writer is busy is handed when it finishes. flush()
// waits for all of it. Queued entries not written before destruction are lost; that is safe,
// because the engine commits offsets only once their ticket is durable, so their messages
// come back. With synchronous=NORMAL a committed write survives a crash of the process; a
// power loss may undo the last ones, which at worst lets a duplicate through.
//
// Reservations live in memory only (one process owns the file): after a restart nothing is
// reserved, and the messages that were in flight are redelivered and reserved anew.
//
// Failures after construction (disk full, I/O errors) never throw: reserve() answers
// Unavailable for the whole batch; a failed write puts its entries back in the queue and
// leaves its ticket short (flush() returns false) until the next request_flush(), and the
// store unhealthy until a write succeeds; expire() stops early. Each failure logs one
// warning, is counted in failed_calls() and is told to the failure observer.
//
// Threading: the public members are called from the engine thread. The writer thread owns the
// second connection, reads the being-written table while a write is outstanding (the engine
// thread then only reads it too), and calls the wake function when a write finishes. The
// destructor lets the writer finish the job it is doing (at most one write, or one chunk of
// an expiry), then stops it; queued work is dropped.
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
  uint64_t request_flush() override;
  uint64_t durable_ticket() override;
  void set_wake(std::function<void()> wake) override;
  // Asks the writer to delete expired rows, in chunks of kExpireChunkRows, one transaction
  // each, for at most kExpireBudget or until a write is handed to it; what is left goes on the
  // next call. Deleting random keys costs about what inserting them did (a page per row).
  void expire() override;

  static constexpr int64_t kExpireChunkRows = 1000;
  static constexpr std::chrono::milliseconds kExpireBudget{50};

  // Waits until the writer has nothing to do (tests; a write's result is taken by the next
  // call that looks at tickets).
  void wait_until_idle();

  const std::string& path() const { return path_; }
  // Confirmed entries not yet written, counting those being written.
  size_t pending() const { return pending_.size() + being_written_.size(); }
  size_t reservations() const { return reserved_.size(); }
  // Calls that failed on a database error since construction (look-ups, writes, expiries).
  int64_t failed_calls() const { return failed_calls_.load(); }

 private:
  struct DatabaseCloser {
    void operator()(sqlite3* db) const;
  };
  struct StatementFinalizer {
    void operator()(sqlite3_stmt* statement) const;
  };
  using DatabasePtr = std::unique_ptr<sqlite3, DatabaseCloser>;
  using StatementPtr = std::unique_ptr<sqlite3_stmt, StatementFinalizer>;

  // One connection and its prepared statements. Constructor only: throws like it.
  DatabasePtr open_connection();
  StatementPtr prepare(sqlite3* db, const char* sql);

  // Engine thread.
  // Turns provisional Reserved answers into Duplicate where a live row exists. SQLITE_OK or
  // the failing result code, with a transaction possibly still open.
  int look_up(std::span<const Fingerprint> fingerprints, std::vector<ReserveStatus>& out, int64_t now);
  // Takes the writer's result if it has one (waiting for it when `wait`); no-op without an
  // outstanding write.
  void collect_write(bool wait);
  // Hands pending_ to the writer under `ticket`; requires no outstanding write.
  void hand_over(uint64_t ticket);

  // Writer thread.
  void writer_loop();
  // Writes being_written_ in one transaction. SQLITE_OK or the failing result code, with the
  // transaction rolled back.
  int write_batch();
  void delete_expired(int64_t now);

  // Steps a statement that returns no rows and resets it; the SQLite result code.
  static int run(sqlite3_stmt* statement);
  static void rollback_if_open(sqlite3* db, sqlite3_stmt* rollback);
  // Logs, counts (failed_calls()) and tells the failure observer.
  void log_failure(StoreOperation operation, int code, const std::string& error);

  const std::string path_;
  const int64_t window_ms_;
  const NowFn now_;

  // The engine thread's connection. Declared before the statements so that they are
  // finalized before it is closed.
  DatabasePtr reader_;
  StatementPtr begin_read_;
  StatementPtr end_read_;
  StatementPtr rollback_read_;
  StatementPtr select_;
  // The writer thread's connection (prepared on the constructing thread, used only by the
  // writer afterwards).
  DatabasePtr writer_;
  StatementPtr begin_write_;
  StatementPtr commit_write_;
  StatementPtr rollback_write_;
  StatementPtr upsert_;
  StatementPtr delete_expired_;

  // Engine thread only.
  fingerprint::FingerprintMap<int64_t> pending_;
  fingerprint::FingerprintSet reserved_;
  uint64_t issued_ticket_ = 0;
  uint64_t durable_ticket_ = 0;
  bool write_outstanding_ = false;
  // A write failed: do not hand the queue again before the next request_flush(), so a full
  // disk is retried at the commit interval rather than in a loop.
  bool hold_after_failure_ = false;

  // Handed to the writer; only read, by both threads, while write_outstanding_.
  fingerprint::FingerprintMap<int64_t> being_written_;

  // Shared with the writer thread, under mutex_.
  std::mutex mutex_;
  std::condition_variable work_ready_;  // the writer waits for a job
  std::condition_variable work_done_;   // flush() and wait_until_idle() wait for results
  std::function<void()> wake_;
  bool stopping_ = false;
  bool write_requested_ = false;
  uint64_t write_ticket_ = 0;
  std::optional<int64_t> expire_requested_at_;  // `now` for the expiry
  bool writer_busy_ = false;
  bool write_finished_ = false;
  int write_result_ = 0;
  std::string write_error_;

  std::atomic<int64_t> failed_calls_{0};
  // Last member: started once everything it uses exists, joined first in the destructor.
  std::thread writer_thread_;
};

}  // namespace sluice::dedup
