#include "http/pooled_client.h"

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
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
  bool resent = false;
};

class Connection;

// The pool's state. Every member below `mutex_` is guarded by it: the io thread's handlers
// take it for their whole run, and submit() and shutdown() take it on the caller's thread.
// The mutex is recursive because the completion handler runs under it and may call submit()
// or shutdown() (both then act at once; a handler that calls deliver() does nothing after it).
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
        on_complete_(std::move(on_complete)) {}

  void submit(Request request);
  void submit(std::vector<Request>& requests);
  // Posts one dispatch() unless one is pending or nothing is queued. Under mutex_.
  void post_dispatch();
  void shutdown();
  ClientStats stats() const {
    return {connections_opened_.load(std::memory_order_relaxed), requests_sent_.load(std::memory_order_relaxed),
            requests_resent_.load(std::memory_order_relaxed)};
  }

  // Called by connections with mutex_ held.
  void dispatch();
  void open_connection(Pending pending);
  void make_idle(std::shared_ptr<Connection> connection) { idle_.push_back(std::move(connection)); }
  void remove(const Connection* connection);
  void deliver(Response response) { on_complete_(std::move(response)); }

  asio::io_context& io_;
  const Endpoint endpoint_;
  const std::string port_text_;
  const RequestWriter writer_;
  const std::unique_ptr<ssl::context> tls_;
  const bool verify_;
  const std::chrono::milliseconds timeout_;
  const size_t max_connections_;
  const CompletionHandler on_complete_;
  std::atomic<uint64_t> connections_opened_{0};
  std::atomic<uint64_t> requests_sent_{0};
  std::atomic<uint64_t> requests_resent_{0};

  std::recursive_mutex mutex_;
  bool stopped_ = false;
  bool dispatch_posted_ = false;
  std::deque<Pending> queue_;                             // waiting for a connection, oldest first
  std::vector<std::shared_ptr<Connection>> connections_;  // every open connection, busy or idle
  std::vector<std::shared_ptr<Connection>> idle_;         // most recently used last
  uint64_t next_connection_id_ = 1;
};

// One TCP connection (with TLS for https), created for the request that needed it. It goes
// resolve → connect → handshake → [write → read → idle]*, and is closed on any error, on
// a response that does not allow reuse, or by shutdown(). Asynchronous operations hold a
// shared_ptr to it, so it lives until their handlers have run even after the pool dropped it.
class Connection final : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<ClientCore> core, uint64_t id)
      : core_(std::move(core)),
        id_(id),
        resolver_(core_->io_.get_executor()),
        socket_(core_->io_.get_executor()),
        timer_(core_->io_.get_executor()) {}

  void open(Pending pending);
  void send(Pending pending);
  // Closes without reporting: shutdown() reports the request itself.
  std::optional<Pending> abandon();

 private:
  enum class Phase { Resolving, Connecting, Handshaking, Writing, Reading, Idle, Closed };

  template <typename Fn>
  void with_stream(Fn&& fn) {
    if (tls_) {
      fn(*tls_);
    } else {
      fn(socket_);
    }
  }

  bool live() const { return !core_->stopped_ && phase_ != Phase::Closed; }
  void take(Pending pending);
  void arm_timer();
  void on_timer(const error_code& ec);
  void on_resolved(const error_code& ec, const Resolver::results_type& results);
  void on_connected(const error_code& ec);
  void start_handshake();
  void on_handshake(const error_code& ec);
  void start_write();
  void on_written(const error_code& ec);
  void start_read();
  void on_read(const error_code& ec);
  bool may_resend(const error_code& ec) const;
  void resend(const error_code& ec);
  void answer(bool reusable);
  void fail(Outcome outcome, std::string error);
  void close(std::string_view reason);
  std::string tls_failure(const error_code& ec);

  const std::shared_ptr<ClientCore> core_;
  const uint64_t id_;
  Resolver resolver_;
  Socket socket_;
  std::optional<ssl::stream<Socket&>> tls_;
  // Armed for the current request's deadline and re-armed lazily when it fires early (the
  // request it was armed for is done), so an exchange costs no timer operation of its own.
  Timer timer_;
  bool timer_armed_ = false;
  beast::flat_buffer buffer_;
  std::optional<ResponseReader> reader_;
  std::string wire_;  // the serialised request, reused from one request to the next
  std::optional<Pending> pending_;
  Phase phase_ = Phase::Resolving;
  bool reused_ = false;  // a response has been read on this connection before
};

void Connection::take(Pending pending) {
  if (pending.deadline == Clock::time_point{}) pending.deadline = Clock::now() + core_->timeout_;
  pending_.emplace(std::move(pending));
  arm_timer();
}

void Connection::arm_timer() {
  if (timer_armed_) return;
  timer_armed_ = true;
  timer_.expires_at(pending_->deadline);
  timer_.async_wait([self = shared_from_this()](const error_code& ec) { self->on_timer(ec); });
}

void Connection::on_timer(const error_code&) {
  std::lock_guard lock(core_->mutex_);
  timer_armed_ = false;
  if (!live() || !pending_) return;
  if (Clock::now() < pending_->deadline) {
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
    case Phase::Writing:
    case Phase::Reading:
      fail(Outcome::TimedOut, "no complete response" + after);
      return;
    case Phase::Idle:
    case Phase::Closed:
      return;
  }
}

void Connection::open(Pending pending) {
  take(std::move(pending));
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
    start_write();
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
  start_write();
}

std::string Connection::tls_failure(const error_code& ec) {
  std::string error = "tls handshake with " + core_->endpoint_.origin + " failed: ";
  const long verify_result = SSL_get_verify_result(tls_->native_handle());
  if (core_->verify_ && verify_result != X509_V_OK) {
    return error + "certificate not accepted: " + X509_verify_cert_error_string(verify_result);
  }
  return error + ec.message();
}

void Connection::send(Pending pending) {
  take(std::move(pending));
  start_write();
}

void Connection::start_write() {
  core_->writer_.write(pending_->request, wire_);
  phase_ = Phase::Writing;
  core_->requests_sent_.fetch_add(1, std::memory_order_relaxed);
  with_stream([this](auto& stream) {
    asio::async_write(stream, asio::buffer(wire_),
                      [self = shared_from_this()](const error_code& ec, size_t) { self->on_written(ec); });
  });
}

void Connection::on_written(const error_code& ec) {
  std::lock_guard lock(core_->mutex_);
  if (!live()) return;
  if (ec) {
    if (may_resend(ec)) {
      resend(ec);
    } else {
      fail(Outcome::ConnectionLost, "sending the request failed: " + ec.message());
    }
    return;
  }
  phase_ = Phase::Reading;
  start_read();
}

void Connection::start_read() {
  reader_.emplace(core_->writer_.is_head());
  with_stream([this](auto& stream) {
    beast::http::async_read(stream, buffer_, *reader_,
                            [self = shared_from_this()](const error_code& ec, size_t) { self->on_read(ec); });
  });
}

void Connection::on_read(const error_code& ec) {
  std::lock_guard lock(core_->mutex_);
  if (!live()) return;
  if (ec == beast::http::error::body_limit && reader_->is_header_done()) {
    answer(false);  // the status stands; the rest of the body is not worth reading
    return;
  }
  if (ec) {
    if (may_resend(ec)) {
      resend(ec);
    } else if (reader_->got_some()) {
      fail(Outcome::ConnectionLost, "invalid or incomplete response: " + ec.message());
    } else {
      fail(Outcome::ConnectionLost, "receiving the response failed: " + ec.message());
    }
    return;
  }
  if (reader_->is_interim()) {
    start_read();
    return;
  }
  // Bytes beyond the response were never asked for: the connection is out of step.
  answer(reader_->keep_alive() && buffer_.size() == 0 && reader_->status() != 101);
}

// Only a connection that has served a response before can have been closed by the server
// while it sat idle; and only when no byte of the response arrived is it certain the request
// was not answered, so sending it once more on a fresh connection is the right repair.
bool Connection::may_resend(const error_code& ec) const {
  if (!reused_ || pending_->resent) return false;
  if (phase_ == Phase::Reading && (reader_->got_some() || buffer_.size() != 0)) return false;
  return ec == beast::http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == asio::error::connection_aborted || ec == ssl::error::stream_truncated;
}

void Connection::resend(const error_code& ec) {
  Pending pending = std::move(*pending_);
  pending_.reset();
  pending.resent = true;
  close("closed by the server while idle: " + ec.message());
  core_->remove(this);
  core_->requests_resent_.fetch_add(1, std::memory_order_relaxed);
  core_->open_connection(std::move(pending));  // takes the slot this connection just gave up
}

void Connection::answer(bool reusable) {
  Response response;
  response.token = pending_->request.token;
  response.outcome = Outcome::Status;
  response.status = reader_->status();
  response.body_excerpt = std::move(reader_->body_excerpt());
  response.retry_after = std::move(reader_->retry_after());
  pending_.reset();
  reused_ = true;
  if (reusable) {
    phase_ = Phase::Idle;
    core_->make_idle(shared_from_this());
  } else {
    close("the response does not allow reuse");
    core_->remove(this);
  }
  core_->dispatch();
  core_->deliver(std::move(response));
}

void Connection::fail(Outcome outcome, std::string error) {
  Response response;
  response.token = pending_->request.token;
  response.outcome = outcome;
  response.error = std::move(error);
  pending_.reset();
  close(response.error);
  core_->remove(this);
  core_->dispatch();
  core_->deliver(std::move(response));
}

std::optional<Pending> Connection::abandon() {
  std::optional<Pending> pending = std::move(pending_);
  pending_.reset();
  close("client shut down");
  return pending;
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
  std::lock_guard lock(mutex_);
  if (stopped_) return;
  queue_.push_back(Pending{std::move(request)});
  post_dispatch();
}

void ClientCore::submit(std::vector<Request>& requests) {
  std::lock_guard lock(mutex_);
  if (!stopped_) {
    for (Request& request : requests) queue_.push_back(Pending{std::move(request)});
    post_dispatch();
  }
  requests.clear();
}

void ClientCore::post_dispatch() {
  // One dispatch for everything submitted before it runs.
  if (dispatch_posted_ || queue_.empty()) return;
  dispatch_posted_ = true;
  asio::post(io_, [self = shared_from_this()] {
    std::lock_guard lock(self->mutex_);
    self->dispatch_posted_ = false;
    self->dispatch();
  });
}

void ClientCore::dispatch() {
  while (!stopped_ && !queue_.empty()) {
    if (idle_.empty() && connections_.size() >= max_connections_) return;
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
    } else if (!idle_.empty()) {
      std::shared_ptr<Connection> connection = std::move(idle_.back());
      idle_.pop_back();
      connection->send(std::move(pending));
    } else {
      open_connection(std::move(pending));
    }
  }
}

void ClientCore::open_connection(Pending pending) {
  SLUICE_ASSERT(connections_.size() < max_connections_, "a connection is opened only into a free slot");
  auto connection = std::make_shared<Connection>(shared_from_this(), next_connection_id_++);
  connections_.push_back(connection);
  connection->open(std::move(pending));
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
  for (const std::shared_ptr<Connection>& connection : connections_) {
    std::optional<Pending> pending = connection->abandon();
    if (pending) cancelled.push_back(std::move(*pending));
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
