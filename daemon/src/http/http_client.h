#pragma once
// An asynchronous HTTP/1.1 client for one endpoint (Boost.Beast on Asio), used by HTTP routes.
//
// - A keep-alive connection pool of at most `max_connections`; requests beyond that wait in
//   FIFO order for a free connection. Connections are reused while the server keeps them
//   alive. A connection the server closed while idle is found out when it is next used: a
//   request whose reused connection turns out to be dead before any response byte arrived is
//   sent once more on a fresh connection (a second failure is reported).
// - HTTP/1.1 pipelining when `pipeline_depth` > 1: once every connection is busy, up to that
//   many requests go out on one connection before its first response comes back (those
//   waiting are written together, in one write), and responses are matched to them in order.
//   A new connection is still preferred while the pool has room. When the server closes a
//   pipelined connection, the requests behind the last response are settled by what is known
//   of them: after a response announcing the close (the server handles nothing after it,
//   RFC 9112 9.6) they are sent again on a fresh connection; after a close like an idle
//   connection's (no byte of the next response) they are sent again once, as above; otherwise
//   (a timeout, a broken response) they may have been handled and are reported
//   ConnectionLost. Requests not yet written go back to the front of the queue.
// - A deadline per request (`timeout`, from the moment it is handed to a connection until
//   the whole response is read; a resend keeps the original deadline; a pipelined request's
//   is looked at once the requests before it are answered); on expiry the
//   connection is closed and the request reported as TimedOut. A request that opened a fresh
//   connection spends its deadline on connecting too: expiry while connecting is
//   ConnectFailed, during the TLS handshake TlsFailed (the request was never sent).
// - Request headers are checked before sending: a name that is not a token, a value with a
//   control character, or a framing header (Content-Length, Transfer-Encoding, Connection)
//   could split the request, so such a request is reported as InvalidRequest and not sent.
// - https:// with OpenSSL: the server certificate is verified against the system trust store
//   and `ca_file` (when set), and the host name is checked (SNI sent; an IP address is
//   matched against the certificate's IP entries). `verify: false` is honoured only when
//   configured explicitly, and logged as a warning at start.
// - Responses: status, the first 1 KiB of the body, and the Retry-After header (raw).
//   Response bodies larger than 1 MiB are not kept; the connection is closed after them.
//
// Threading: every method may be called from any thread. I/O and completions run on the
// io_context's thread (HttpRuntime); the completion handler must be quick, thread-safe and
// must not throw (the engine only queues the response and wakes its own thread). It runs
// under the client's lock: it may call submit() and shutdown(), but must not wait for another
// thread that is calling shutdown() on the same client. submit() does not take that lock (it
// leaves requests in an inbox the io thread empties), so it never waits for a handler.
//
// Stop: shutdown() closes every connection and reports each request not yet answered with
// Outcome::Cancelled, on the calling thread; after it returns no more completions are
// delivered, and requests submitted later are dropped without one. It does not need the io
// thread, so it also works once the runtime has stopped. Clients are shut down (or
// destroyed, which shuts them down) before their runtime.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace sluice::http {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct ClientSettings {
  std::string url;  // http://host[:port]/path or https://...
  std::string method = "POST";
  std::chrono::milliseconds timeout{5000};
  int max_connections = 16;
  int pipeline_depth = 1;  // requests on one connection before its first response; 1: no pipelining
  HeaderList headers;    // sent with every request (values may be secrets: never logged)
  std::string ca_file;   // extra trusted CA certificates (PEM); empty: system store only
  bool verify = true;    // verify the server certificate and host name
  std::string user_agent = "sluice";
};

struct Request {
  uint64_t token = 0;  // echoed in the Response
  std::string body;
  HeaderList headers;  // per request, after the client's own (e.g. Idempotency-Key)
};

struct Response {
  enum class Outcome {
    Status,          // the server answered: see `status`
    TimedOut,        // no complete response within the timeout
    ConnectFailed,   // name resolution or TCP connect failed (refused, unreachable)
    ConnectionLost,  // the connection broke while sending or receiving
    TlsFailed,       // TLS handshake failed (e.g. the certificate is not trusted)
    Cancelled,       // shutdown() came first
    InvalidRequest,  // one of the request's own headers cannot be sent (see `error`); never sent
  };
  uint64_t token = 0;
  Outcome outcome = Outcome::Status;
  int status = 0;
  std::string body_excerpt;                // the first 1 KiB of the body
  std::optional<std::string> retry_after;  // the Retry-After header as sent
  std::string error;                       // what went wrong, for non-Status outcomes
};

std::string_view outcome_name(Response::Outcome outcome);

using CompletionHandler = std::function<void(Response response)>;

struct ClientStats {
  uint64_t connections_opened = 0;
  uint64_t requests_sent = 0;    // writes started, including resends
  uint64_t requests_resent = 0;  // sent again on a fresh connection after a reused one was found dead
  uint64_t requests_pipelined = 0;  // written while an earlier request on the connection was unanswered
};

class HttpClient {
 public:
  // Validates the settings (URL, CA file) and builds the client; on failure returns nullptr
  // and sets `error`. `on_complete` is called once per submitted request.
  static std::unique_ptr<HttpClient> create(boost::asio::io_context& io, const ClientSettings& settings,
                                            CompletionHandler on_complete, std::string& error);
  virtual ~HttpClient() = default;

  virtual void submit(Request request) = 0;
  // Takes every request in `requests` (leaving it empty) under one short lock, with at most
  // one wake of the io thread: a caller that produces requests one at a time in a loop saves
  // a wake (a syscall) per request.
  virtual void submit(std::vector<Request>& requests) = 0;
  virtual void shutdown() = 0;
  virtual ClientStats stats() const = 0;
};

// The io_context and the one thread that runs it, shared by every HTTP client of the daemon.
// Started by the engine before its sinks, stopped after them.
class HttpRuntime {
 public:
  HttpRuntime();
  ~HttpRuntime();  // stops the io_context and joins the thread
  HttpRuntime(const HttpRuntime&) = delete;
  HttpRuntime& operator=(const HttpRuntime&) = delete;

  boost::asio::io_context& io();
  void stop();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Retry-After as a delay from `now`: delta-seconds ("120") or an HTTP-date
// ("Wed, 21 Oct 2015 07:28:00 GMT"); nullopt when it is neither. A date in the past is 0.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value,
                                                           std::chrono::system_clock::time_point now);

}  // namespace sluice::http
