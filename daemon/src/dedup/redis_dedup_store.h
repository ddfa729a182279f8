#pragma once
// A dedup store in Redis, shared by every instance that points at the same server, and
// compatible with the reference detector's keys (`duplicate_check:<hex>` = "1").

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dedup/dedup_store.h"

struct redisContext;
struct redisReply;

namespace sluice::dedup {

// redis://[[user]:password@]host[:port][/db]; user and password may be percent-encoded.
// Parsed in redis_url.cc.
struct RedisEndpoint {
  std::string host;
  int port = 6379;
  std::string username;  // empty: AUTH with the password alone
  std::string password;  // empty: no AUTH
  int64_t db = 0;
};

// Throws std::runtime_error with the reason (the password never appears in it) when `url`
// is not of the form above: a startup failure.
RedisEndpoint parse_redis_url(std::string_view url);

struct RedisDedupOptions {
  std::string url;
  std::string key_prefix = "duplicate_check:";
  std::chrono::milliseconds window{24 * 3600 * 1000};
  std::chrono::milliseconds reservation_ttl{60'000};
  // Bounds on how long one call can hold the engine thread when Redis is slow or gone.
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds command_timeout{2000};
  // false: SET NX then GET even on a server that can do both in one command (tests of the
  // older form).
  bool single_command_reserve = true;
};

// One key per fingerprint, key_prefix + fingerprint.hex(), whose value says who has it:
//   "sluice-reservation:<host>:<pid>:<random>"  reserved by that store, expiring after
//                                                reservation_ttl (a crashed owner's
//                                                reservation blocks no longer than that);
//   anything else, "1" from confirm()           confirmed, expiring after window.
//
// Each call is one pipelined round trip for its whole batch over one blocking connection:
//   reserve  SET key <owner> NX GET PX <reservation_ttl> per fingerprint on Redis 7 and
//            later (INFO server at connection): the old value, if any, tells a confirmed
//            entry (Duplicate) from a reservation (Busy). Older servers reject NX with GET, so
//            there it is SET key <owner> NX PX <reservation_ttl>, then GET key; a key that
//            expires between the two answers Busy, and the engine asks again shortly.
//   confirm  SET key 1 PX <window>, overwriting the reservation.
//   release  EVALSHA of a script that deletes the key only while it still holds this store's
//            owner id, so a reservation taken over by someone else is never deleted.
//
// Failures never throw. Any I/O error or timeout drops the connection; from then on calls
// answer at once without touching the network (reserve: Unavailable for the whole batch)
// until the next reconnection attempt, at most one per backoff period (100 ms doubling to
// 5 s, reset on success). The first connection is attempted at construction; Redis being
// down then is not fatal. Confirmed entries that could not be written stay queued until a
// later confirm() or flush() writes them; flush() returns false meanwhile. Keys this store
// may have reserved in a batch whose answers were lost, and reservations it could not
// release, are deleted (if still its own) right after the next reconnection, so they do not
// block their messages until reservation_ttl. The one cost: a copy of the same message
// whose reservation is still held loses it, which can let a duplicate through but never
// drops a message. Error replies (e.g. OOM) keep the connection and answer Unavailable for
// the fingerprints they concern.
//
// Each call that could not reach Redis is told to the failure observer; the store is
// unhealthy from a lost connection (or a failed first connection) until it reconnects.
// State changes (unavailable, available again, error replies) are logged once each.
// The backoff runs on the injected clock; a clock that steps back ends the wait early.
// Nothing is sent at destruction: queued confirms are lost, which is safe because the
// engine commits offsets only after flush() succeeded, and this store's reservations
// expire by themselves.
//
// Threading: engine thread only. Writes use MSG_NOSIGNAL, so a closed socket never raises
// SIGPIPE.
class RedisDedupStore final : public DedupStore {
 public:
  // Throws std::runtime_error on an invalid url (see parse_redis_url).
  explicit RedisDedupStore(RedisDedupOptions options, NowFn now = system_now_ms);
  ~RedisDedupStore() override;
  RedisDedupStore(const RedisDedupStore&) = delete;
  RedisDedupStore& operator=(const RedisDedupStore&) = delete;

  // DedupStore
  std::string_view backend_name() const override { return "redis"; }
  void reserve(std::span<const Fingerprint> fingerprints, std::vector<ReserveStatus>& out) override;
  void confirm(std::span<const Fingerprint> fingerprints) override;
  void release(std::span<const Fingerprint> fingerprints) override;
  bool flush() override;

  static constexpr std::string_view kOwnerPrefix = "sluice-reservation:";
  static constexpr std::chrono::milliseconds kFirstBackoff{100};
  static constexpr std::chrono::milliseconds kMaxBackoff{5000};

  // The value of this store's reservations.
  const std::string& owner() const { return owner_; }
  // The current connection reserves with one command per fingerprint (Redis 7 and later).
  bool single_command_reserve() const { return single_command_; }
  bool connected() const { return context_ != nullptr; }
  // Confirmed entries not yet written.
  size_t pending() const { return pending_.size(); }
  // Keys to delete-if-ours after the next reconnection.
  size_t abandoned() const { return abandoned_.size(); }

  // Counters since construction, for metrics and tests.
  // Pipelines sent and answered (or failed), including connection setup.
  int64_t round_trips() const { return round_trips_; }
  // reserve() calls answered Unavailable as a whole.
  int64_t unavailable_answers() const { return unavailable_answers_; }
  int64_t connect_attempts() const { return connect_attempts_; }
  // Connections established after the first attempt at construction.
  int64_t reconnects() const { return reconnects_; }
  // Error replies to single commands (the connection stayed up).
  int64_t error_replies() const { return error_replies_; }
  // release() calls that could not reach Redis.
  int64_t failed_releases() const { return failed_releases_; }

 private:
  struct ContextFree {
    void operator()(redisContext* context) const;
  };
  struct ReplyFree {
    void operator()(redisReply* reply) const;
  };
  using ContextPtr = std::unique_ptr<redisContext, ContextFree>;
  using ReplyPtr = std::unique_ptr<redisReply, ReplyFree>;

  // True with a usable connection; otherwise tries to connect if the backoff allows.
  bool ensure_connected();
  // Connects, authenticates, selects the db and loads the release script (set_up), then
  // deletes abandoned reservations (resume). False, with why_, on any failure.
  bool connect();
  bool set_up();
  bool resume();
  // Sends request_ and counts the round trip; false on an I/O error or timeout.
  bool send_request();
  // The next reply, or null on an I/O error or timeout (then why_ says what happened).
  ReplyPtr next_reply();
  void lose_connection(std::string_view operation);
  // No connection attempt before now + the current backoff, which then doubles.
  void start_backoff(int64_t now);
  // Writes pending_; false when some entries stay queued.
  bool write_pending();
  // Appends the release pipeline for `fingerprints` to request_: EVALSHA, or EVAL when
  // the script is not loaded.
  void append_releases(std::span<const Fingerprint> fingerprints, bool by_sha);
  // Reads one reply per release; false after an I/O error. NOSCRIPT answers are retried
  // with EVAL in a second round trip.
  bool read_releases(std::span<const Fingerprint> fingerprints);
  void note_error_reply(std::string_view operation, const redisReply& reply);
  void note_replies_ok();
  void abandon(std::span<const Fingerprint> fingerprints);
  void append_key(std::string_view head, const Fingerprint& fingerprint);

  const RedisDedupOptions options_;
  const RedisEndpoint endpoint_;
  const NowFn now_;
  const std::string owner_;
  // Preformatted RESP pieces around each key (the key's length is fixed).
  std::string reserve_head_;
  std::string reserve_middle_;
  std::string reserve_single_head_;
  std::string reserve_single_tail_;
  bool single_command_ = false;  // from INFO server on the current connection
  std::string confirm_head_;
  std::string confirm_tail_;
  std::string release_tail_;
  std::string release_script_sha_;  // from SCRIPT LOAD on the current connection

  ContextPtr context_;
  std::string request_;  // reused between calls
  std::string why_;      // the last I/O failure
  bool available_ = false;
  bool replies_failing_ = false;
  int64_t backoff_ms_;
  int64_t wait_since_ms_ = 0;
  int64_t next_attempt_ms_ = 0;

  std::vector<Fingerprint> pending_;
  std::vector<Fingerprint> abandoned_;
  int64_t abandoned_at_ms_ = 0;

  int64_t round_trips_ = 0;
  int64_t unavailable_answers_ = 0;
  int64_t connect_attempts_ = 0;
  int64_t reconnects_ = 0;
  int64_t error_replies_ = 0;
  int64_t failed_releases_ = 0;
};

}  // namespace sluice::dedup
