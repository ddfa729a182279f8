#include "dedup/redis_dedup_store.h"

#include <hiredis/hiredis.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <initializer_list>
#include <optional>
#include <random>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "common/assert.h"
#include "common/log.h"
#include "common/text.h"

namespace sluice::dedup {
namespace {

// Deletes the key only while it holds this store's owner id (ARGV[1]): a reservation that
// expired and was taken by another owner, or a confirmed entry, is left alone.
constexpr std::string_view kReleaseScript =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

constexpr size_t kHexDigits = 2 * sizeof(Fingerprint{}.bytes);

void append_number(std::string& out, int64_t value) {
  char digits[24];
  const auto result = std::to_chars(std::begin(digits), std::end(digits), value);
  out.append(digits, result.ptr);
}

void append_bulk(std::string& out, std::string_view value) {
  out += '$';
  append_number(out, static_cast<int64_t>(value.size()));
  out += "\r\n";
  out += value;
  out += "\r\n";
}

void append_command(std::string& out, std::initializer_list<std::string_view> arguments) {
  out += '*';
  append_number(out, static_cast<int64_t>(arguments.size()));
  out += "\r\n";
  for (std::string_view argument : arguments) append_bulk(out, argument);
}

// The RESP bulk-string header of a key, followed by the prefix: the hex digits come next.
std::string key_head(std::string_view key_prefix) {
  std::string out = "$";
  append_number(out, static_cast<int64_t>(key_prefix.size() + kHexDigits));
  out += "\r\n";
  out += key_prefix;
  return out;
}

std::string owner_id() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  std::random_device random;
  const uint64_t nonce = (static_cast<uint64_t>(random()) << 32) ^ random();
  unsigned char nonce_bytes[sizeof nonce];
  for (size_t i = 0; i < sizeof nonce; ++i) nonce_bytes[i] = static_cast<unsigned char>(nonce >> (8 * i));
  return std::string(RedisDedupStore::kOwnerPrefix) + host + ":" + std::to_string(::getpid()) + ":" +
         text::to_hex(nonce_bytes, sizeof nonce_bytes);
}

timeval to_timeval(std::chrono::milliseconds duration) {
  timeval out{};
  out.tv_sec = static_cast<time_t>(duration.count() / 1000);
  out.tv_usec = static_cast<suseconds_t>((duration.count() % 1000) * 1000);
  return out;
}

std::string_view reply_text(const redisReply& reply) {
  return reply.str != nullptr ? std::string_view(reply.str, reply.len) : std::string_view();
}

// The major version in an INFO server reply ("redis_version:7.0.15"), 0 when absent.
int major_version(std::string_view info) {
  constexpr std::string_view kField = "redis_version:";
  const size_t at = info.find(kField);
  if (at == std::string_view::npos) return 0;
  int major = 0;
  for (size_t i = at + kField.size(); i < info.size() && info[i] >= '0' && info[i] <= '9' && major < 1000; ++i) {
    major = major * 10 + (info[i] - '0');
  }
  return major;
}

}  // namespace

void RedisDedupStore::ContextFree::operator()(redisContext* context) const { redisFree(context); }

void RedisDedupStore::ReplyFree::operator()(redisReply* reply) const { freeReplyObject(reply); }

RedisDedupStore::RedisDedupStore(RedisDedupOptions options, NowFn now)
    : options_(std::move(options)),
      endpoint_(parse_redis_url(options_.url)),
      now_(std::move(now)),
      owner_(owner_id()),
      backoff_ms_(kFirstBackoff.count()) {
  SLUICE_ASSERT(options_.window.count() > 0, "the config key table rejects a non-positive dedup window");
  SLUICE_ASSERT(options_.reservation_ttl.count() > 0, "the config key table rejects a non-positive reservation_ttl");

  const std::string key = key_head(options_.key_prefix);
  // SET <key> <owner> NX PX <reservation_ttl>, then GET <key>; the hex digits go between.
  reserve_head_ = "*6\r\n$3\r\nSET\r\n" + key;
  reserve_middle_ = "\r\n";
  append_bulk(reserve_middle_, owner_);
  append_bulk(reserve_middle_, "NX");
  append_bulk(reserve_middle_, "PX");
  append_bulk(reserve_middle_, std::to_string(options_.reservation_ttl.count()));
  reserve_middle_ += "*2\r\n$3\r\nGET\r\n" + key;
  // SET <key> <owner> NX GET PX <reservation_ttl> (Redis 7 and later)
  reserve_single_head_ = "*7\r\n$3\r\nSET\r\n" + key;
  reserve_single_tail_ = "\r\n";
  append_bulk(reserve_single_tail_, owner_);
  append_bulk(reserve_single_tail_, "NX");
  append_bulk(reserve_single_tail_, "GET");
  append_bulk(reserve_single_tail_, "PX");
  append_bulk(reserve_single_tail_, std::to_string(options_.reservation_ttl.count()));
  // SET <key> 1 PX <window>
  confirm_head_ = "*5\r\n$3\r\nSET\r\n" + key;
  confirm_tail_ = "\r\n";
  append_bulk(confirm_tail_, "1");
  append_bulk(confirm_tail_, "PX");
  append_bulk(confirm_tail_, std::to_string(options_.window.count()));
  // EVALSHA|EVAL <script> 1 <key> <owner>; the head depends on the connection.
  release_tail_ = "\r\n";
  append_bulk(release_tail_, owner_);

  if (connect()) {
    available_ = true;
    log::info("dedup redis available", {{"host", endpoint_.host}, {"port", endpoint_.port}, {"db", endpoint_.db}});
  } else {
    mark_unhealthy(now_());
    start_backoff(now_());
    log::warn("dedup redis unavailable",
              {{"host", endpoint_.host}, {"port", endpoint_.port}, {"operation", "connect"}, {"error", why_}});
  }
}

RedisDedupStore::~RedisDedupStore() = default;

void RedisDedupStore::reserve(std::span<const Fingerprint> fingerprints, std::vector<ReserveStatus>& out) {
  out.resize(fingerprints.size());
  if (fingerprints.empty()) return;
  const auto unavailable = [&] {
    std::fill(out.begin(), out.end(), ReserveStatus::Unavailable);
    ++unavailable_answers_;
    note_failure(StoreOperation::Reserve);
  };
  if (!ensure_connected()) return unavailable();

  request_.clear();
  for (const Fingerprint& fingerprint : fingerprints) {
    if (single_command_) {
      append_key(reserve_single_head_, fingerprint);
      request_ += reserve_single_tail_;
    } else {
      append_key(reserve_head_, fingerprint);
      append_key(reserve_middle_, fingerprint);
      request_ += "\r\n";
    }
  }
  const auto lost = [&] {
    lose_connection("reserve");
    // Some SETs may have been executed; their keys would block these messages until
    // reservation_ttl.
    abandon(fingerprints);
    unavailable();
  };
  if (!send_request()) return lost();

  // A value that is a reservation (ours or another owner's) is Busy, anything else a
  // confirmed entry.
  const auto held_by = [](const redisReply& value) {
    return reply_text(value).starts_with(kOwnerPrefix) ? ReserveStatus::Busy : ReserveStatus::Duplicate;
  };
  bool errors = false;
  for (size_t i = 0; i < fingerprints.size(); ++i) {
    const ReplyPtr set = next_reply();
    if (!set) return lost();
    if (single_command_) {
      // The old value: nil when the key was free and is ours now.
      if (set->type == REDIS_REPLY_NIL) {
        out[i] = ReserveStatus::Reserved;
      } else if (set->type == REDIS_REPLY_STRING) {
        out[i] = held_by(*set);
      } else {
        note_error_reply("reserve", *set);
        errors = true;
        out[i] = ReserveStatus::Unavailable;
      }
      continue;
    }
    const ReplyPtr get = next_reply();
    if (!get) return lost();
    ReserveStatus status = ReserveStatus::Unavailable;
    if (set->type == REDIS_REPLY_STATUS) {
      status = ReserveStatus::Reserved;
    } else if (set->type == REDIS_REPLY_NIL) {
      if (get->type == REDIS_REPLY_NIL) {
        status = ReserveStatus::Busy;  // expired between SET and GET: ask again
      } else if (get->type == REDIS_REPLY_STRING) {
        status = held_by(*get);
      } else {
        note_error_reply("reserve", *get);
        errors = true;
      }
    } else {
      note_error_reply("reserve", *set);
      errors = true;
    }
    out[i] = status;
  }
  if (!errors) note_replies_ok();
}

void RedisDedupStore::confirm(std::span<const Fingerprint> fingerprints) {
  if (fingerprints.empty()) return;
  pending_.insert(pending_.end(), fingerprints.begin(), fingerprints.end());
  if (!write_pending()) note_failure(StoreOperation::Confirm);
}

bool RedisDedupStore::flush() {
  if (write_pending()) return true;
  note_failure(StoreOperation::Flush);
  return false;
}

bool RedisDedupStore::write_pending() {
  if (pending_.empty()) return true;
  if (!ensure_connected()) return false;
  request_.clear();
  for (const Fingerprint& fingerprint : pending_) {
    append_key(confirm_head_, fingerprint);
    request_ += confirm_tail_;
  }
  if (!send_request()) {
    lose_connection("confirm");
    return false;
  }
  // Entries answered with an error stay queued; everything stays queued after an I/O error,
  // since SET is idempotent and it is unknown which ones were executed.
  size_t kept = 0;
  for (size_t i = 0; i < pending_.size(); ++i) {
    const ReplyPtr reply = next_reply();
    if (!reply) {
      lose_connection("confirm");
      return false;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
      note_error_reply("confirm", *reply);
      pending_[kept++] = pending_[i];
    }
  }
  if (kept == 0) note_replies_ok();
  pending_.resize(kept);
  return kept == 0;
}

void RedisDedupStore::release(std::span<const Fingerprint> fingerprints) {
  if (fingerprints.empty()) return;
  const auto failed = [&] {
    // Deleted after the next reconnection; until then they expire by themselves.
    ++failed_releases_;
    note_failure(StoreOperation::Release);
    abandon(fingerprints);
  };
  if (!ensure_connected()) return failed();
  request_.clear();
  append_releases(fingerprints, !release_script_sha_.empty());
  if (!send_request() || !read_releases(fingerprints)) {
    lose_connection("release");
    return failed();
  }
}

void RedisDedupStore::append_releases(std::span<const Fingerprint> fingerprints, bool by_sha) {
  std::string head = "*5\r\n";
  if (by_sha) {
    append_bulk(head, "EVALSHA");
    append_bulk(head, release_script_sha_);
  } else {
    append_bulk(head, "EVAL");
    append_bulk(head, kReleaseScript);
  }
  append_bulk(head, "1");
  head += key_head(options_.key_prefix);
  for (const Fingerprint& fingerprint : fingerprints) {
    append_key(head, fingerprint);
    request_ += release_tail_;
  }
}

bool RedisDedupStore::read_releases(std::span<const Fingerprint> fingerprints) {
  // Rare: the script cache was flushed (SCRIPT FLUSH, a restart behind a proxy).
  std::vector<Fingerprint> unknown_script;
  bool errors = false;
  for (const Fingerprint& fingerprint : fingerprints) {
    const ReplyPtr reply = next_reply();
    if (!reply) return false;
    if (reply->type != REDIS_REPLY_ERROR) continue;
    if (reply_text(*reply).starts_with("NOSCRIPT")) {
      unknown_script.push_back(fingerprint);
    } else {
      note_error_reply("release", *reply);
      errors = true;
    }
  }
  if (!unknown_script.empty()) {
    request_.clear();
    append_command(request_, {"SCRIPT", "LOAD", kReleaseScript});
    append_releases(unknown_script, false);
    if (!send_request()) return false;
    const ReplyPtr loaded = next_reply();
    if (!loaded) return false;
    if (loaded->type == REDIS_REPLY_STRING) release_script_sha_ = std::string(reply_text(*loaded));
    for (size_t i = 0; i < unknown_script.size(); ++i) {
      const ReplyPtr reply = next_reply();
      if (!reply) return false;
      if (reply->type == REDIS_REPLY_ERROR) {
        note_error_reply("release", *reply);
        errors = true;
      }
    }
  }
  if (!errors) note_replies_ok();
  return true;
}

bool RedisDedupStore::ensure_connected() {
  if (context_) return true;
  const int64_t now = now_();
  // A clock that stepped back to before the wait began ends the wait.
  if (now >= wait_since_ms_ && now < next_attempt_ms_) return false;
  if (connect()) {
    mark_healthy();
    backoff_ms_ = kFirstBackoff.count();
    ++reconnects_;
    if (!available_) {
      log::info("dedup redis available", {{"host", endpoint_.host},
                                          {"port", endpoint_.port},
                                          {"db", endpoint_.db},
                                          {"reconnects", reconnects_}});
      available_ = true;
    }
    return true;
  }
  start_backoff(now);
  log::debug("dedup redis reconnection failed",
             {{"host", endpoint_.host}, {"port", endpoint_.port}, {"error", why_}, {"retry_in_ms", next_attempt_ms_ - now}});
  return false;
}

bool RedisDedupStore::connect() {
  ++connect_attempts_;
  why_.clear();
  context_.reset(redisConnectWithTimeout(endpoint_.host.c_str(), endpoint_.port, to_timeval(options_.connect_timeout)));
  if (!context_) {
    why_ = "cannot allocate a connection";
    return false;
  }
  if (context_->err != 0) {
    why_ = context_->errstr;
    context_.reset();
    return false;
  }
  if (redisSetTimeout(context_.get(), to_timeval(options_.command_timeout)) != REDIS_OK ||
      redisEnableKeepAlive(context_.get()) != REDIS_OK) {
    why_ = context_->errstr;
    context_.reset();
    return false;
  }
  if (!set_up() || !resume()) {
    context_.reset();
    release_script_sha_.clear();
    return false;
  }
  return true;
}

bool RedisDedupStore::set_up() {
  request_.clear();
  std::vector<std::string_view> steps;
  if (!endpoint_.password.empty()) {
    if (endpoint_.username.empty()) {
      append_command(request_, {"AUTH", endpoint_.password});
    } else {
      append_command(request_, {"AUTH", endpoint_.username, endpoint_.password});
    }
    steps.push_back("AUTH");
  }
  const std::string db = std::to_string(endpoint_.db);
  if (endpoint_.db != 0) {
    append_command(request_, {"SELECT", db});
    steps.push_back("SELECT");
  }
  append_command(request_, {"SCRIPT", "LOAD", kReleaseScript});
  steps.push_back("SCRIPT LOAD");
  append_command(request_, {"INFO", "server"});
  steps.push_back("INFO");
  if (!send_request()) return false;
  for (std::string_view step : steps) {
    const ReplyPtr reply = next_reply();
    if (!reply) return false;
    if (reply->type == REDIS_REPLY_ERROR) {
      why_ = std::string(step) + ": " + std::string(reply_text(*reply));
      return false;
    }
    if (step == "SCRIPT LOAD") {
      if (reply->type != REDIS_REPLY_STRING) {
        why_ = "SCRIPT LOAD: unexpected reply";
        return false;
      }
      release_script_sha_ = std::string(reply_text(*reply));
    }
    if (step == "INFO") {
      single_command_ = options_.single_command_reserve && reply->type == REDIS_REPLY_STRING &&
                        major_version(reply_text(*reply)) >= 7;
    }
  }
  return true;
}

bool RedisDedupStore::resume() {
  if (!abandoned_.empty() && now_() - abandoned_at_ms_ >= options_.reservation_ttl.count()) abandoned_.clear();
  if (abandoned_.empty()) return true;
  request_.clear();
  append_releases(abandoned_, true);
  if (!send_request() || !read_releases(abandoned_)) return false;
  abandoned_.clear();
  return true;
}

bool RedisDedupStore::send_request() {
  ++round_trips_;
  const int fd = context_->fd;
  size_t sent = 0;
  while (sent < request_.size()) {
    const ssize_t written = ::send(fd, request_.data() + sent, request_.size() - sent, MSG_NOSIGNAL);
    if (written >= 0) {
      sent += static_cast<size_t>(written);
      continue;
    }
    const int error = errno;
    if (error == EINTR) continue;
    why_ = error == EAGAIN || error == EWOULDBLOCK ? "sending timed out (command_timeout)"
                                                   : std::system_category().message(error);
    return false;
  }
  return true;
}

RedisDedupStore::ReplyPtr RedisDedupStore::next_reply() {
  void* reply = nullptr;
  if (redisGetReply(context_.get(), &reply) != REDIS_OK) {
    const int error = errno;
    if (context_->err == REDIS_ERR_IO && (error == EAGAIN || error == EWOULDBLOCK)) {
      why_ = "no reply within command_timeout";
    } else {
      why_ = context_->errstr;
    }
    return nullptr;
  }
  SLUICE_ASSERT(reply != nullptr, "a blocking hiredis context returns a reply or an error");
  return ReplyPtr(static_cast<redisReply*>(reply));
}

void RedisDedupStore::lose_connection(std::string_view operation) {
  mark_unhealthy(now_());
  context_.reset();
  release_script_sha_.clear();
  start_backoff(now_());
  if (available_) {
    log::warn("dedup redis unavailable",
              {{"host", endpoint_.host}, {"port", endpoint_.port}, {"operation", operation}, {"error", why_}});
    available_ = false;
  }
}

void RedisDedupStore::start_backoff(int64_t now) {
  wait_since_ms_ = now;
  next_attempt_ms_ = now + backoff_ms_;
  backoff_ms_ = std::min(backoff_ms_ * 2, kMaxBackoff.count());
}

void RedisDedupStore::note_error_reply(std::string_view operation, const redisReply& reply) {
  ++error_replies_;
  if (replies_failing_) return;
  replies_failing_ = true;
  const std::string_view error =
      reply.type == REDIS_REPLY_ERROR ? reply_text(reply) : std::string_view("unexpected reply type");
  log::warn("dedup redis answers errors", {{"operation", operation}, {"error", error}});
}

void RedisDedupStore::note_replies_ok() {
  if (!replies_failing_) return;
  replies_failing_ = false;
  log::info("dedup redis answers normally again", {{"error_replies", error_replies_}});
}

void RedisDedupStore::abandon(std::span<const Fingerprint> fingerprints) {
  const int64_t now = now_();
  // Older ones have expired in Redis by now: forget them rather than grow.
  if (now - abandoned_at_ms_ >= options_.reservation_ttl.count()) abandoned_.clear();
  abandoned_.insert(abandoned_.end(), fingerprints.begin(), fingerprints.end());
  abandoned_at_ms_ = now;
}

void RedisDedupStore::append_key(std::string_view head, const Fingerprint& fingerprint) {
  static constexpr char kDigits[] = "0123456789abcdef";
  request_ += head;
  const size_t at = request_.size();
  request_.resize(at + kHexDigits);
  char* out = request_.data() + at;
  for (unsigned char byte : fingerprint.bytes) {
    *out++ = kDigits[byte >> 4];
    *out++ = kDigits[byte & 0x0f];
  }
}

}  // namespace sluice::dedup
