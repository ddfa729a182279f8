#include "admin/admin_server.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <list>
#include <optional>
#include <thread>

#include "common/log.h"
#include "common/version.h"

namespace sluice::admin {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using SteadyTime = std::chrono::steady_clock::time_point;

constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";
// After a failed accept (e.g. out of file descriptors), how long before the next: a failing
// accept must not spin.
constexpr std::chrono::milliseconds kAcceptRetry{100};

struct Reply {
  http::status status;
  std::string content_type;
  std::string body;
};

Reply probe_reply(bool ok, bool verbose, const HealthState& health, const char* failure) {
  return {ok ? http::status::ok : http::status::service_unavailable, "text/plain",
          verbose ? health.describe() : std::string(ok ? "ok\n" : failure)};
}

Reply answer(const http::request<http::string_body>& request, const AdminSources& sources) {
  if (request.method() != http::verb::get && request.method() != http::verb::head) {
    return {http::status::method_not_allowed, "text/plain", "read-only: GET or HEAD\n"};
  }
  std::string_view target(request.target().data(), request.target().size());
  std::string_view path = target.substr(0, target.find('?'));
  bool verbose = target.find("verbose") != std::string_view::npos;
  const HealthState& health = *sources.health;
  if (path == "/metrics") return {http::status::ok, kMetricsContentType, sources.metrics->serialize()};
  if (path == "/livez" || path == "/healthz") return probe_reply(health.live(), verbose, health, "event loop stuck\n");
  if (path == "/readyz") return probe_reply(health.ready() && health.live(), verbose, health, "not ready\n");
  if (path == "/status" && sources.status != nullptr) {
    StatusSnapshot snapshot = sources.status->read();
    if (snapshot.taken_at_ms == 0) {
      return {http::status::service_unavailable, "application/json", "{\"error\":\"no snapshot yet\"}\n"};
    }
    return {http::status::ok, "application/json", status_to_json(snapshot)};
  }
  if (path == "/config" && !sources.config_yaml.empty()) {
    return {http::status::ok, "application/yaml; charset=utf-8", sources.config_yaml};
  }
  return {http::status::not_found, "text/plain", "not found: /metrics, /livez, /readyz, /healthz, /status, /config\n"};
}

class Session;

// The open connections, oldest first. Admin thread only.
struct Connections {
  AdminLimits limits;
  std::list<std::shared_ptr<Session>> open;
};

// One client connection: wait for a request (idle), read it, answer, repeat while keep-alive.
// One timer bounds each phase; when it fires the connection is closed.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const AdminSources& sources, Connections& connections)
      : socket_(std::move(socket)), deadline_(socket_.get_executor()), sources_(sources), connections_(connections) {}

  void start() { wait_for_request(); }
  bool idle() const { return idle_; }
  SteadyTime idle_since() const { return idle_since_; }

  // Closes the socket and leaves the connection list (the last reference may then be the
  // caller's handler). Idempotent.
  void close() {
    if (closed_) return;
    closed_ = true;
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    deadline_.cancel();
    connections_.open.remove_if([this](const std::shared_ptr<Session>& session) { return session.get() == this; });
  }

 private:
  // Closes the connection unless the next phase started within `timeout`.
  void arm(std::chrono::milliseconds timeout) {
    const uint64_t phase = ++phase_;
    deadline_.expires_after(timeout);
    deadline_.async_wait([self = shared_from_this(), phase](beast::error_code error) {
      if (!error && self->phase_ == phase) self->close();
    });
  }

  void wait_for_request() {
    parser_.emplace();
    parser_->body_limit(64 * 1024);
    if (buffer_.size() > 0) {  // a pipelined request is already here
      read_request();
      return;
    }
    idle_ = true;
    idle_since_ = std::chrono::steady_clock::now();
    arm(connections_.limits.idle_timeout);
    socket_.async_read_some(buffer_.prepare(4096), [self = shared_from_this()](beast::error_code error, size_t read) {
      self->idle_ = false;
      if (error) {
        self->close();
        return;
      }
      self->buffer_.commit(read);
      self->read_request();
    });
  }

  void read_request() {
    arm(connections_.limits.request_timeout);
    http::async_read(socket_, buffer_, *parser_, [self = shared_from_this()](beast::error_code error, size_t) {
      if (error) {
        self->close();
        return;
      }
      self->request_ = self->parser_->release();
      self->respond();
    });
  }

  void respond() {
    Reply reply = answer(request_, sources_);
    response_ = {};
    response_.version(request_.version());
    response_.result(reply.status);
    response_.set(http::field::server, std::string("sluice/") + SLUICE_VERSION);
    response_.set(http::field::content_type, reply.content_type);
    if (reply.status == http::status::method_not_allowed) response_.set(http::field::allow, "GET, HEAD");
    response_.keep_alive(request_.keep_alive());
    if (request_.method() != http::verb::head) response_.body() = std::move(reply.body);
    response_.prepare_payload();
    arm(connections_.limits.request_timeout);
    http::async_write(socket_, response_, [self = shared_from_this()](beast::error_code error, size_t) {
      if (error || !self->response_.keep_alive()) {
        self->close();
        return;
      }
      self->wait_for_request();
    });
  }

  tcp::socket socket_;
  asio::steady_timer deadline_;
  uint64_t phase_ = 0;  // which arm() the timer belongs to
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
  const AdminSources& sources_;
  Connections& connections_;
  bool idle_ = false;
  SteadyTime idle_since_{};
  bool closed_ = false;
};

}  // namespace

struct AdminServer::Impl {
  Impl(AdminSources sources_in, AdminLimits limits)
      : sources(std::move(sources_in)), acceptor(io), retry_timer(io) {
    connections.limits = limits;
  }

  void accept() {
    acceptor.async_accept(io, [this](beast::error_code error, tcp::socket socket) {
      if (error == asio::error::operation_aborted) return;
      if (error) {
        if (should_log_accept_error()) log::warn("admin server cannot accept", {{"error", error.message()}});
        retry_timer.expires_after(kAcceptRetry);
        retry_timer.async_wait([this](beast::error_code wait_error) {
          if (!wait_error) accept();
        });
        return;
      }
      admit(std::move(socket));
      accept();
    });
  }

  // At the cap, the connection idle longest makes room; when every connection is busy with a
  // request (each bounded by request_timeout), the new one is closed at once.
  void admit(tcp::socket socket) {
    if (connections.open.size() >= connections.limits.max_connections) {
      std::shared_ptr<Session> oldest;
      for (const std::shared_ptr<Session>& session : connections.open) {
        if (session->idle() && (!oldest || session->idle_since() < oldest->idle_since())) oldest = session;
      }
      if (!oldest) {
        beast::error_code ignored;
        socket.close(ignored);
        return;
      }
      oldest->close();
    }
    auto session = std::make_shared<Session>(std::move(socket), sources, connections);
    connections.open.push_back(session);
    session->start();
  }

  bool should_log_accept_error() {
    auto now = std::chrono::steady_clock::now();
    if (now - last_accept_log < std::chrono::seconds(10)) return false;
    last_accept_log = now;
    return true;
  }

  // Declared first, destroyed last: every socket and timer below belongs to it.
  asio::io_context io{1};
  const AdminSources sources;
  tcp::acceptor acceptor;
  asio::steady_timer retry_timer;
  Connections connections;
  SteadyTime last_accept_log{};
  std::thread thread;
  uint16_t port = 0;
};

std::unique_ptr<AdminServer> AdminServer::start(const std::string& listen, AdminSources sources, std::string& error,
                                                AdminLimits limits) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    error = "admin.listen must be host:port, found \"" + listen + "\"";
    return nullptr;
  }
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  auto impl = std::make_unique<Impl>(std::move(sources), limits);
  beast::error_code ec;
  asio::ip::address address = asio::ip::make_address(host.empty() ? "0.0.0.0" : host, ec);
  unsigned long port = 0;
  try {
    port = std::stoul(listen.substr(colon + 1));
  } catch (const std::exception&) {
    port = 65536;
  }
  if (ec || port > 65535) {
    error = "admin.listen: \"" + listen + "\" is not an IP address and port";
    return nullptr;
  }
  tcp::endpoint endpoint(address, static_cast<uint16_t>(port));
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    error = "admin server cannot listen on " + listen + ": " + ec.message();
    return nullptr;
  }
  impl->port = impl->acceptor.local_endpoint().port();
  impl->accept();
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->io.run(); });
  return std::unique_ptr<AdminServer>(new AdminServer(std::move(impl)));
}

AdminServer::AdminServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

AdminServer::~AdminServer() { stop(); }

uint16_t AdminServer::port() const { return impl_->port; }

void AdminServer::stop() {
  if (!impl_->thread.joinable()) return;
  impl_->io.stop();
  impl_->thread.join();
  // The thread is gone: nothing else touches the listener or the connections now.
  beast::error_code ignored;
  impl_->acceptor.close(ignored);
  while (!impl_->connections.open.empty()) impl_->connections.open.front()->close();
}

}  // namespace sluice::admin
