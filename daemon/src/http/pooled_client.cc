#include "http/pooled_client.h"

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <iterator>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>

#include "common/assert.h"
#include "common/log.h"
#include "http/response_reader.h"

namespace sluice::http {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
// I/O objects bound to the io_context's own executor type rather than the type-erased
// any_io_executor, which costs an indirection on every operation.
using Clock = std::chrono::steady_clock;
using Executor = asio::io_context::executor_type;
using Socket = asio::basic_stream_socket<tcp, Executor>;
using Resolver = asio::ip::basic_resolver<tcp, Executor>;
using Timer = asio::basic_waitable_timer<Clock, asio::wait_traits<Clock>, Executor>;
using Outcome = Response::Outcome;

struct Pending {
  Request request;
  Clock::time_point deadline{};  // fixed when first handed to a connection; a resend keeps it
  bool resent = false;           // sent once more after a connection was found closed
};

class Connection;

// The pool's state. Every member below `mutex_` is guarded by it: the io thread's handlers
// take it for their whole run (writes and reads included), and shutdown() takes it on the
// caller's thread. The mutex is recursive because the completion handler runs under it and
// may call shutdown() (which then acts at once; a handler that calls deliver() does nothing
// after it). submit() does not take it: it leaves requests in the inbox, under a lock of its
// own that is held only to move them, so the engine thread never waits for a handler.
class ClientCore final : public std::enable_shared_from_this<ClientCore> {
 public:
  ClientCore(asio::io_context& io, Endpoint endpoint, RequestWriter writer, std::unique_ptr<ssl::context> tls,
             const ClientSettings& settings, CompletionHandler on_complete)
      : io_(io),
        endpoint_(std::move(endpoint)),
        port_text_(std::to_string(endpoint_.port)),
        writer_(std::move(writer)),
        tls_(std::move(tls)),
        verify_(settings.verify),
        timeout_(settings.timeout),
        max_connections_(static_cast<size_t>(settings.max_connections)),
        pipeline_depth_(static_cast<size_t>(settings.pipeline_depth)),
        on_complete_(std::move(on_complete)) {}

  void submit(Request request);
  void submit(std::vector<Request>& requests);
  void shutdown();
  ClientStats stats() const {
    return {connections_opened_.load(std::memory_order_relaxed), requests_sent_.load(std::memory_order_relaxed),
            requests_resent_.load(std::memory_order_relaxed), requests_pipelined_.load(std::memory_order_relaxed)};
  }

  // Called by connections with mutex_ held.
  void dispatch();
  // Opens a connection into a free slot for `pendings` (one, or the requests a closed
  // connection hands on: they are written together once it is open).
  void open_connection(std::vector<Pending> pendings);
  void make_idle(std::shared_ptr<Connection> connection) { idle_.push_back(std::move(connection)); }
  void remove(const Connection* connection);
  // After a connection answered, failed or closed: hands queued requests to connections, then
  // reports `responses` in order (a completion may shut the client down; nothing follows it).
  void settle(std::vector<Response> responses) {
    dispatch();
    for (Response& response : responses) deliver(std::move(response));
  }
  // Requests that were never written go back to the front of the queue, in their order.
  void requeue(std::vector<Pending> pendings);
  void deliver(Response response) { on_complete_(std::move(response)); }

  asio::io_context& io_;
  const Endpoint endpoint_;
  const std::string port_text_;
  const RequestWriter writer_;
  const std::unique_ptr<ssl::context> tls_;
  const bool verify_;
  const std::chrono::milliseconds timeout_;
  const size_t max_connections_;
  const size_t pipeline_depth_;
  const CompletionHandler on_complete_;
  std::atomic<uint64_t> connections_opened_{0};
  std::atomic<uint64_t> requests_sent_{0};
  std::atomic<uint64_t> requests_resent_{0};
  std::atomic<uint64_t> requests_pipelined_{0};

  // Lock order: mutex_, then inbox_mutex_ (submit() takes only the latter).
  std::mutex inbox_mutex_;
  std::vector<Request> inbox_;  // submitted, not yet in queue_; guarded by inbox_mutex_
  bool inbox_posted_ = false;   // a take_inbox() is posted; guarded by inbox_mutex_
  bool inbox_closed_ = false;   // shut down: submit() drops requests; guarded by inbox_mutex_
  // What move_inbox() swapped out of the inbox, empty between calls (it keeps the capacity
  // that the inbox gets back next time). Guarded by mutex_.
  std::vector<Request> taken_;

  std::recursive_mutex mutex_;
  bool stopped_ = false;
  std::deque<Pending> queue_;                             // waiting for a connection, oldest first
  std::vector<std::shared_ptr<Connection>> connections_;  // every open connection, busy or idle
  std::vector<std::shared_ptr<Connection>> idle_;         // nothing in flight; most recently used last
  uint64_t next_connection_id_ = 1;
  std::vector<std::shared_ptr<Connection>> due_;  // dispatch()'s list, empty between calls

 private:
  // On the io thread: moves the inbox to the end of queue_ and dispatches. Under mutex_.
  void take_inbox();
  // Moves the inbox to the end of queue_ (and with `close`, makes submit() drop requests from
  // now on). Under mutex_; the inbox lock is held only for a swap, so a submit() waits for
  // no more than that.
  void move_inbox(bool close);
  // With pipelining and no idle connection or free slot: the open connection with the fewest
  // requests in flight, below pipeline_depth_; nullptr when there is none.
  std::shared_ptr<Connection> least_loaded() const;
};

// One TCP connection (with TLS for https), created for the request(s) that needed it. It goes
// resolve → connect → handshake → open, and is closed on any error, on a response that does
// not allow reuse, or by shutdown(). While open, requests handed to it are written as soon as
// no write is in progress (all that wait, in one write), and responses are read one after the
// other and matched to the oldest request. Asynchronous operations hold a shared_ptr to it, so
// it lives until their handlers have run even after the pool dropped it.
class Connection final : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<ClientCore> core, uint64_t id)
      : core_(std::move(core)),
        id_(id),
        resolver_(core_->io_.get_executor()),
        socket_(core_->io_.get_executor()),
        timer_(core_->io_.get_executor()) {}

  void open(std::vector<Pending> pendings);
  // Hands over a request; true when the caller is to call flush() for it (once it has handed
  // over the rest: requests waiting together are written together).
  bool send(Pending pending);
  void flush();
  // Open, and room for one more pipelined request.
  bool can_pipeline() const { return phase_ == Phase::Open && in_flight_.size() < core_->pipeline_depth_; }
  size_t load() const { return in_flight_.size(); }
  // Closes without reporting: shutdown() reports the requests itself.
  std::vector<Pending> abandon();

 private:
  enum class Phase { Resolving, Connecting, Handshaking, Open, Closed };
  // What becomes of the written requests behind the one a failure or a close is about.
  enum class Behind { Lost, Resend, ResendOnce };

  template <typename Fn>
  void with_stream(Fn&& fn) {
    if (tls_) {
      fn(*tls_);
    } else {
      fn(socket_);
    }
  }

  bool live() const { return !core_->stopped_ && phase_ != Phase::Closed; }
  size_t written() const { return in_flight_.size() - unwritten_; }
  void take(Pending pending);
  void arm_timer();
  void on_timer(const error_code& ec);
  void on_resolved(const error_code& ec, const Resolver::results_type& results);
  void on_connected(const error_code& ec);
  void start_handshake();
  void on_handshake(const error_code& ec);
  void become_open();
  void start_write();
  void on_written(const error_code& ec);
  void start_read();
  void on_read(const error_code& ec);
  bool closed_while_idle(const error_code& ec) const;
  void lose(const error_code& ec, std::string error);
  void answer(bool reusable);
  // Reports the oldest request with `outcome` (every request, before the connection was open)
  // and closes the connection.
  void fail(Outcome outcome, std::string error);
  // Closes the connection, takes it out of the pool and settles every request still on it
  // (after the oldest, when `first` is 1): written ones as `behind` says, unwritten ones back
  // to the queue. Returns the reports to deliver once the pool is consistent again.
  std::vector<Response> retire(std::string_view reason, size_t first, Behind behind);
  void close(std::string_view reason);
  std::string tls_failure(const error_code& ec);

  const std::shared_ptr<ClientCore> core_;
  const uint64_t id_;
  Resolver resolver_;
  Socket socket_;
  std::optional<ssl::stream<Socket&>> tls_;
  // Armed for the oldest request's deadline and re-armed lazily when it fires early (the
  // request it was armed for is done), so an exchange costs no timer operation of its own.
  Timer timer_;
  bool timer_armed_ = false;
  beast::flat_buffer buffer_;
  std::optional<ResponseReader> reader_;
  std::string wire_;               // the serialised requests of the current write, reused
  std::deque<Pending> in_flight_;  // oldest first; the last `unwritten_` are not written yet
  size_t unwritten_ = 0;
  bool writing_ = false;
  bool reading_ = false;
  Phase phase_ = Phase::Resolving;
  bool reused_ = false;  // a response has been read on this connection before
};

void Connection::take(Pending pending) {
  if (pending.deadline == Clock::time_point{}) pending.deadline = Clock::now() + core_->timeout_;
  in_flight_.push_back(std::move(pending));
  ++unwritten_;
  arm_timer();
}

void Connection::arm_timer() {
  if (timer_armed_) return;
  timer_armed_ = true;
  timer_.expires_at(in_flight_.front().deadline);
  timer_.async_wait([self = shared_from_this()](const error_code& ec) { self->on_timer(ec); });
}

void Connection::on_timer(const error_code&) {
  std::lock_guard lock(core_->mutex_);
  timer_armed_ = false;
  if (!live() || in_flight_.empty()) return;
  if (Clock::now() < in_flight_.front().deadline) {
    arm_timer();
    return;
  }
  const std::string after = " within " + std::to_string(core_->timeout_.count()) + "ms";
  switch (phase_) {
    case Phase::Resolving:
    case Phase::Connecting:
      fail(Outcome::ConnectFailed, "could not connect to " + core_->endpoint_.origin + after);
      return;
    case Phase::Handshaking:
      fail(Outcome::TlsFailed, "tls handshake with " + core_->endpoint_.origin + " did not complete" + after);
      return;
    case Phase::Open:
      fail(Outcome::TimedOut, "no complete response" + after);
      return;
    case Phase::Closed:
      return;
  }
}

void Connection::open(std::vector<Pending> pendings) {
  for (Pending& pending : pendings) take(std::move(pending));
  phase_ = Phase::Resolving;
  auto flags = Resolver::numeric_service;
  if (core_->endpoint_.host_is_ip) flags |= Resolver::numeric_host;
  resolver_.async_resolve(core_->endpoint_.host, core_->port_text_, flags,
                          [self = shared_from_this()](const error_code& ec, Resolver::results_type results) {
                            self->on_resolved(ec, results);
                          });
}

void Connection::on_resolved(const error_code& ec, const Resolver::results_type& results) {
  std::lock_guard lock(core_->mutex_);
  if (!live()) return;
  if (ec) {
    fail(Outcome::ConnectFailed, "cannot resolve " + core_->endpoint_.host + ": " + ec.message());
    return;
  }
  phase_ = Phase::Connecting;
  asio::async_connect(socket_, results, [self = shared_from_this()](const error_code& ec, const tcp::endpoint&) {
    self->on_connected(ec);
  });
}

void Connection::on_connected(const error_code& ec) {
  std::lock_guard lock(core_->mutex_);
  if (!live()) return;
  if (ec) {
    fail(Outcome::ConnectFailed, "cannot connect to " + core_->endpoint_.origin + ": " + ec.message());
    return;
  }
  error_code ignored;
  socket_.set_option(tcp::no_delay(true), ignored);
  core_->connections_opened_.fetch_add(1, std::memory_order_relaxed);
  log::debug("http connection opened", {{"endpoint", core_->endpoint_.origin}, {"connection", id_}});
  if (core_->tls_) {
    start_handshake();
  } else {
    become_open();
  }
}

void Connection::start_handshake() {
  phase_ = Phase::Handshaking;
  tls_.emplace(socket_, *core_->tls_);
  SSL* ssl = tls_->native_handle();
  const Endpoint& endpoint = core_->endpoint_;
  // SNI carries host names only (RFC 6066); an address is checked against the certificate's
  // IP entries instead.
  if (!endpoint.host_is_ip) SSL_set_tlsext_host_name(ssl, endpoint.host.c_str());
  if (core_->verify_) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    const int ok = endpoint.host_is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, endpoint.host.c_str())
                                       : X509_VERIFY_PARAM_set1_host(param, endpoint.host.c_str(), 0);
    if (ok != 1) {
      fail(Outcome::TlsFailed, "cannot check the certificate of " + endpoint.origin + " against its host");
      return;
    }
  }
  tls_->async_handshake(ssl::stream_base::client,
                        [self = shared_from_this()](const error_code& ec) { self->on_handshake(ec); });
}

void Connection::on_handshake(const error_code& ec) {
  std::lock_guard lock(core_->mutex_);
  if (!live()) return;
  if (ec) {
    fail(Outcome::TlsFailed, tls_failure(ec));
    return;
  }
  become_open();
}

std::string Connection::tls_failure(const error_code& ec) {
  std::string error = "tls handshake with " + core_->endpoint_.origin + " failed: ";
  const long verify_result = SSL_get_verify_result(tls_->native_handle());
  if (core_->verify_ && verify_result != X509_V_OK) {
    return error + "certificate not accepted: " + X509_verify_cert_error_string(verify_result);
  }
  return error + ec.message();
}

void Connection::become_open() {
  phase_ = Phase::Open;
  start_write();
  // Requests that queued while it connected may be pipelined onto it now.
  if (core_->pipeline_depth_ > 1) core_->dispatch();
}

bool Connection::send(Pending pending) {
  take(std::move(pending));
  // Otherwise the write in progress, or the connection becoming open, writes it.
  return phase_ == Phase::Open && !writing_ && unwritten_ == 1;
}

void Connection::flush() {
  if (live() && phase_ == Phase::Open && !writing_ && unwritten_ > 0) start_write();
}

void Connection::start_write() {
  SLUICE_ASSERT(unwritten_ > 0 && !writing_, "a write starts for waiting requests, one write at a time");
  wire_.clear();
  for (auto it = in_flight_.end() - static_cast<std::ptrdiff_t>(unwritten_); it != in_flight_.end(); ++it) {
    core_->writer_.append(it->request, wire_);
  }
  // Every request of the write but a first one on a connection with nothing unanswered.
  const size_t pipelined = written() > 0 ? unwritten_ : unwritten_ - 1;
  core_->requests_sent_.fetch_add(unwritten_, std::memory_order_relaxed);
  if (pipelined > 0) core_->requests_pipelined_.fetch_add(pipelined, std::memory_order_relaxed);
  unwritten_ = 0;
  writing_ = true;
  with_stream([this](auto& stream) {
    asio::async_write(stream, asio::buffer(wire_),
                      [self = shared_from_this()](const error_code& ec, size_t) { self->on_written(ec); });
  });
}

void Connection::on_written(const error_code& ec) {
  std::lock_guard lock(core_->mutex_);
  writing_ = false;
  if (!live()) return;
  if (ec) {
    lose(ec, "sending the request failed: " + ec.message());
    return;
  }
  // One read at a time, beside the writes: the next response is read after the previous one.
  // (The responses to everything written may all have been read already.)
  if (!reading_ && written() > 0) start_read();
  if (unwritten_ > 0) start_write();
}

void Connection::start_read() {
  reader_.emplace(core_->writer_.is_head());
  reading_ = true;
  with_stream([this](auto& stream) {
    beast::http::async_read(stream, buffer_, *reader_,
                            [self = shared_from_this()](const error_code& ec, size_t) { self->on_read(ec); });
  });
}

void Connection::on_read(const error_code& ec) {
  std::lock_guard lock(core_->mutex_);
  reading_ = false;
  if (!live()) return;
  if (ec == beast::http::error::body_limit && reader_->is_header_done()) {
    answer(false);  // the status stands; the rest of the body is not worth reading
    return;
  }
  if (ec) {
    if (reader_->got_some()) {
      lose(ec, "invalid or incomplete response: " + ec.message());
    } else {
      lose(ec, "receiving the response failed: " + ec.message());
    }
    return;
  }
  if (reader_->is_interim()) {
    start_read();
    return;
  }
  // Bytes beyond the response that no written request asked for: the connection is out of step.
  const bool in_step = buffer_.size() == 0 || written() > 1;
  answer(reader_->keep_alive() && in_step && reader_->status() != 101);
}

// Only a connection that has served a response before can have been closed by the server
// while it sat idle; and only when no byte of the next response arrived is it certain the
// requests were not answered, so sending them once more on a fresh connection is the repair.
bool Connection::closed_while_idle(const error_code& ec) const {
  if (!reused_) return false;
  if ((reader_ && reader_->got_some()) || buffer_.size() != 0) return false;
  return ec == beast::http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == asio::error::connection_aborted || ec == ssl::error::stream_truncated;
}

void Connection::lose(const error_code& ec, std::string error) {
  if (closed_while_idle(ec)) {
    core_->settle(retire("closed by the server while idle: " + ec.message(), 0, Behind::ResendOnce));
    return;
  }
  fail(Outcome::ConnectionLost, std::move(error));
}

void Connection::answer(bool reusable) {
  Response response;
  response.token = in_flight_.front().request.token;
  response.outcome = Outcome::Status;
  response.status = reader_->status();
  response.body_excerpt = std::move(reader_->body_excerpt());
  response.retry_after = std::move(reader_->retry_after());
  // A server that announced the close handles nothing after this response; after a body too
  // large to read or a protocol switch, what became of the requests behind it is unknown.
  const Behind behind = reader_->keep_alive() ? Behind::Lost : Behind::Resend;
  reader_.reset();  // from here on, a reader means a response that is being read
  in_flight_.pop_front();
  reused_ = true;
  std::vector<Response> behind_it;  // allocates only when the connection closes
  if (!reusable) {
    behind_it = retire("the response does not allow reuse", 0, behind);
  } else if (in_flight_.empty()) {
    core_->make_idle(shared_from_this());
  } else if (written() > 0) {
    start_read();  // the next response is due; requests not written yet wait for the write
  }
  core_->dispatch();
  core_->deliver(std::move(response));
  for (Response& report : behind_it) core_->deliver(std::move(report));
}

void Connection::fail(Outcome outcome, std::string error) {
  std::vector<Response> reports;
  if (phase_ == Phase::Open) {
    Response response;
    response.token = in_flight_.front().request.token;
    response.outcome = outcome;
    response.error = error;
    reports.push_back(std::move(response));
    std::vector<Response> behind = retire(error, 1, Behind::Lost);
    std::move(behind.begin(), behind.end(), std::back_inserter(reports));
  } else {
    // Nothing was written: every request failed to get a connection.
    for (const Pending& pending : in_flight_) {
      Response response;
      response.token = pending.request.token;
      response.outcome = outcome;
      response.error = error;
      reports.push_back(std::move(response));
    }
    in_flight_.clear();
    unwritten_ = 0;
    retire(error, 0, Behind::Lost);
  }
  core_->settle(std::move(reports));
}

std::vector<Response> Connection::retire(std::string_view reason, size_t first, Behind behind) {
  std::vector<Response> reports;
  std::vector<Pending> resend;
  std::vector<Pending> never_written;
  const size_t written_count = written();
  for (size_t i = first; i < in_flight_.size(); ++i) {
    Pending& pending = in_flight_[i];
    if (i >= written_count) {
      never_written.push_back(std::move(pending));
    } else if (behind == Behind::Resend || (behind == Behind::ResendOnce && !pending.resent)) {
      if (behind == Behind::ResendOnce) pending.resent = true;
      resend.push_back(std::move(pending));
    } else {
      Response response;
      response.token = pending.request.token;
      response.outcome = Outcome::ConnectionLost;
      response.error = "no response before the connection closed (" + std::string(reason) + ")";
      reports.push_back(std::move(response));
    }
  }
  in_flight_.clear();
  unwritten_ = 0;
  close(reason);
  core_->remove(this);
  core_->requeue(std::move(never_written));
  if (!resend.empty()) {
    core_->requests_resent_.fetch_add(resend.size(), std::memory_order_relaxed);
    core_->open_connection(std::move(resend));  // takes the slot this connection just gave up
  }
  return reports;
}

std::vector<Pending> Connection::abandon() {
  std::vector<Pending> pendings(std::make_move_iterator(in_flight_.begin()), std::make_move_iterator(in_flight_.end()));
  in_flight_.clear();
  unwritten_ = 0;
  close("client shut down");
  return pendings;
}

void Connection::close(std::string_view reason) {
  const bool was_connected = phase_ != Phase::Resolving && phase_ != Phase::Connecting;
  phase_ = Phase::Closed;
  resolver_.cancel();
  timer_.cancel();
  error_code ignored;
  socket_.close(ignored);
  if (was_connected) {
    log::debug("http connection closed",
               {{"endpoint", core_->endpoint_.origin}, {"connection", id_}, {"reason", reason}});
  }
}

void ClientCore::submit(Request request) {
  std::vector<Request> one;
  one.push_back(std::move(request));
  submit(one);
}

// Any thread, the completion handler's included. Requests submitted after shutdown() are
// dropped without a report, as the client promises.
void ClientCore::submit(std::vector<Request>& requests) {
  bool post = false;
  {
    std::lock_guard lock(inbox_mutex_);
    if (!inbox_closed_ && !requests.empty()) {
      if (inbox_.empty()) {
        inbox_.swap(requests);
      } else {
        std::move(requests.begin(), requests.end(), std::back_inserter(inbox_));
      }
      // One take_inbox() for everything submitted before it runs.
      post = !inbox_posted_;
      inbox_posted_ = true;
    }
  }
  requests.clear();
  if (post) {
    asio::post(io_, [self = shared_from_this()] {
      std::lock_guard lock(self->mutex_);
      self->take_inbox();
    });
  }
}

void ClientCore::take_inbox() {
  // A shut-down client has already taken and cancelled what the inbox held.
  move_inbox(false);
  dispatch();
}

void ClientCore::move_inbox(bool close) {
  {
    std::lock_guard lock(inbox_mutex_);
    inbox_posted_ = false;
    if (close) inbox_closed_ = true;
    inbox_.swap(taken_);
  }
  for (Request& request : taken_) queue_.push_back(Pending{std::move(request)});
  taken_.clear();
}

void ClientCore::dispatch() {
  // Connections given requests write them once the loop is done, each in one write. The list
  // keeps its capacity from one dispatch to the next (a dispatch follows every response).
  std::vector<std::shared_ptr<Connection>> due;
  due.swap(due_);
  while (!stopped_ && !queue_.empty()) {
    // An idle connection first, then a new one, and only then a busy one (pipelining).
    std::shared_ptr<Connection> connection;
    if (idle_.empty() && connections_.size() >= max_connections_) {
      if (pipeline_depth_ <= 1) break;
      connection = least_loaded();
      if (connection == nullptr) break;
    }
    Pending pending = std::move(queue_.front());
    queue_.pop_front();
    // Checked here rather than in submit() so that the caller's thread does no work and the
    // completion comes from the io thread like every other.
    std::string invalid = writer_.check(pending.request);
    if (!invalid.empty()) {
      Response response;
      response.token = pending.request.token;
      response.outcome = Outcome::InvalidRequest;
      response.error = std::move(invalid);
      deliver(std::move(response));  // may shut the client down: the loop checks stopped_ again
      continue;
    }
    if (connection == nullptr && !idle_.empty()) {
      connection = std::move(idle_.back());
      idle_.pop_back();
    }
    if (connection == nullptr) {
      std::vector<Pending> one;
      one.push_back(std::move(pending));
      open_connection(std::move(one));
    } else if (connection->send(std::move(pending))) {
      due.push_back(std::move(connection));
    }
  }
  for (const std::shared_ptr<Connection>& connection : due) connection->flush();
  due.clear();
  due_.swap(due);
}

std::shared_ptr<Connection> ClientCore::least_loaded() const {
  const std::shared_ptr<Connection>* best = nullptr;
  for (const std::shared_ptr<Connection>& connection : connections_) {
    if (connection->can_pipeline() && (best == nullptr || connection->load() < (*best)->load())) best = &connection;
  }
  return best != nullptr ? *best : nullptr;
}

void ClientCore::open_connection(std::vector<Pending> pendings) {
  SLUICE_ASSERT(connections_.size() < max_connections_, "a connection is opened only into a free slot");
  auto connection = std::make_shared<Connection>(shared_from_this(), next_connection_id_++);
  connections_.push_back(connection);
  connection->open(std::move(pendings));
}

void ClientCore::requeue(std::vector<Pending> pendings) {
  for (auto it = pendings.rbegin(); it != pendings.rend(); ++it) queue_.push_front(std::move(*it));
}

void ClientCore::remove(const Connection* connection) {
  auto found = std::find_if(connections_.begin(), connections_.end(),
                            [connection](const std::shared_ptr<Connection>& c) { return c.get() == connection; });
  if (found != connections_.end()) {
    std::swap(*found, connections_.back());
    connections_.pop_back();
  }
  std::erase_if(idle_, [connection](const std::shared_ptr<Connection>& c) { return c.get() == connection; });
}

// Safe whether or not the io thread is running: everything it touches is under mutex_, and a
// handler that runs later finds stopped_ set and returns.
void ClientCore::shutdown() {
  std::lock_guard lock(mutex_);
  if (stopped_) return;
  stopped_ = true;
  std::vector<Pending> cancelled;
  move_inbox(true);
  for (const std::shared_ptr<Connection>& connection : connections_) {
    for (Pending& pending : connection->abandon()) cancelled.push_back(std::move(pending));
  }
  connections_.clear();
  idle_.clear();
  for (Pending& pending : queue_) cancelled.push_back(std::move(pending));
  queue_.clear();
  for (Pending& pending : cancelled) {
    Response response;
    response.token = pending.request.token;
    response.outcome = Outcome::Cancelled;
    response.error = "the client was shut down";
    deliver(std::move(response));
  }
}

class PooledClient final : public HttpClient {
 public:
  explicit PooledClient(std::shared_ptr<ClientCore> core) : core_(std::move(core)) {}
  ~PooledClient() override { core_->shutdown(); }

  void submit(Request request) override { core_->submit(std::move(request)); }
  void submit(std::vector<Request>& requests) override { core_->submit(requests); }
  void shutdown() override { core_->shutdown(); }
  ClientStats stats() const override { return core_->stats(); }

 private:
  const std::shared_ptr<ClientCore> core_;
};

}  // namespace

std::unique_ptr<HttpClient> make_pooled_client(asio::io_context& io, Endpoint endpoint, RequestWriter writer,
                                               std::unique_ptr<ssl::context> tls, const ClientSettings& settings,
                                               CompletionHandler on_complete) {
  SLUICE_ASSERT((tls != nullptr) == endpoint.tls, "https endpoints, and only they, come with a tls context");
  SLUICE_ASSERT(settings.max_connections > 0, "create() rejects a pool without connections");
  auto core = std::make_shared<ClientCore>(io, std::move(endpoint), std::move(writer), std::move(tls), settings,
                                           std::move(on_complete));
  return std::make_unique<PooledClient>(std::move(core));
}

}  // namespace sluice::http
