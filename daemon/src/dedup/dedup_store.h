#pragma once
// Where fingerprints of already-handled messages are remembered for `window`.
//
// The protocol keeps at-least-once intact (a fingerprint is final only once its message's
// outcome is final):
//   reserve(batch)  → per fingerprint: Reserved (new: go ahead), Duplicate (a message with
//                     this content reached a final outcome within the window), Busy (another
//                     owner holds an unexpired reservation: ask again later), or Unavailable
//                     (the backend cannot answer now).
//   confirm(batch)  → the messages were forwarded (or otherwise finished): remember them until
//                     now + window.
//   release(batch)  → processing failed: forget the reservation, so the message is processed
//                     normally when it comes back (from a retry tier or a redelivery).
//   flush()         → make confirmed entries durable, waiting for it; called before offsets
//                     are committed on a revocation or at stop.
//   request_flush() → the same without waiting, for the periodic commit: returns a ticket,
//                     and the offsets that depend on it are committed once durable_ticket()
//                     has reached it.
//
// Every call takes a whole batch so a networked backend pays one round trip per batch.
// Expired entries never count as duplicates, whether or not housekeeping has removed them.
//
// Threading: a store is used from the engine thread only; a store may write on a thread of
// its own, and then calls the function given to set_wake() from that thread.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "fingerprint/fingerprint.h"

namespace sluice::config {
struct DedupConfig;
}  // namespace sluice::config

namespace sluice::dedup {

using fingerprint::Fingerprint;

enum class ReserveStatus { Reserved, Duplicate, Busy, Unavailable };

// The calls of a store, as the operation label of sluice_dedup_store_errors_total.
enum class StoreOperation { Reserve, Confirm, Release, Flush, Expire };
inline constexpr StoreOperation kStoreOperations[] = {StoreOperation::Reserve, StoreOperation::Confirm,
                                                      StoreOperation::Release, StoreOperation::Flush,
                                                      StoreOperation::Expire};
std::string_view operation_name(StoreOperation operation);

// Milliseconds since the epoch. Injected so tests can move time without sleeping.
using NowFn = std::function<int64_t()>;
int64_t system_now_ms();

class DedupStore {
 public:
  virtual ~DedupStore() = default;

  // "memory", "sqlite", "redis": the metric label.
  virtual std::string_view backend_name() const = 0;

  // `out` is resized to fingerprints.size(); out[i] answers fingerprints[i].
  virtual void reserve(std::span<const Fingerprint> fingerprints, std::vector<ReserveStatus>& out) = 0;
  virtual void confirm(std::span<const Fingerprint> fingerprints) = 0;
  virtual void release(std::span<const Fingerprint> fingerprints) = 0;

  // False when confirmed entries could not be made durable; offsets must then not be
  // committed (the entries stay queued and are flushed again next time).
  virtual bool flush() = 0;

  // Tickets count up from 1; durable_ticket() is the highest ticket all of whose entries are
  // durable (0: none yet), and never goes down. A failed write leaves it short of the ticket
  // until a later request_flush() succeeds, so the dependent offsets simply wait. The default
  // writes on the calling thread, through flush().
  virtual uint64_t request_flush();
  virtual uint64_t durable_ticket() { return durable_ticket_; }
  // For a store that writes on a thread of its own: `wake` is called from that thread
  // whenever durable_ticket() may have moved. Set once, before the first request_flush().
  virtual void set_wake(std::function<void()> wake) { (void)wake; }

  // Housekeeping (removing expired entries), called from a timer on the engine thread.
  virtual void expire() {}

  // Called once per failed call (a full disk, an I/O error, Redis unreachable), from the
  // thread that saw the failure: the engine thread, or a store's writer thread. Set once,
  // before the store is used; it must be thread-safe (it increments a metric).
  void set_failure_observer(std::function<void(StoreOperation)> observer) { failure_observer_ = std::move(observer); }

  // False from a failed write (or a lost connection) until the next successful one: the
  // store cannot make new entries durable, so offsets wait. Any thread (for /readyz).
  bool healthy() const { return unhealthy_since_ms_.load(std::memory_order_relaxed) == 0; }
  // When the store became unhealthy (milliseconds since the epoch); 0 while healthy.
  int64_t unhealthy_since_ms() const { return unhealthy_since_ms_.load(std::memory_order_relaxed); }

 protected:
  // For implementations, from whichever thread saw the failure or the success.
  void note_failure(StoreOperation operation) const {
    if (failure_observer_) failure_observer_(operation);
  }
  void mark_unhealthy(int64_t now_ms) {
    int64_t healthy = 0;
    unhealthy_since_ms_.compare_exchange_strong(healthy, std::max<int64_t>(now_ms, 1), std::memory_order_relaxed);
  }
  void mark_healthy() { unhealthy_since_ms_.store(0, std::memory_order_relaxed); }

 private:
  std::function<void(StoreOperation)> failure_observer_;
  std::atomic<int64_t> unhealthy_since_ms_{0};
  // The default request_flush()'s tickets.
  uint64_t issued_ticket_ = 0;
  uint64_t durable_ticket_ = 0;
};

using DedupStorePtr = std::unique_ptr<DedupStore>;

// The store `config.backend` names. Throws std::runtime_error when it cannot be opened (a
// startup failure, e.g. an unwritable sqlite_path).
DedupStorePtr make_dedup_store(const config::DedupConfig& config, NowFn now = system_now_ms);

}  // namespace sluice::dedup
