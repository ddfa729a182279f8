#pragma once
// The pieces of the pooled HTTP client (pooled_client.h): ClientCore, the pool (its queue, its
// connections and the inbox the engine thread submits to), and Connection, one keep-alive
// connection. pooled_client.cc has the pool's logic, pooled_connection.cc a connection's.
// Internal to the http module: nothing outside it includes this.
//
// Threading: as described on each class; the io thread runs every handler.

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
#include "http/pooled_client.h"
#include "http/response_reader.h"

namespace sluice::http::pool {

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

}  // namespace sluice::http::pool
