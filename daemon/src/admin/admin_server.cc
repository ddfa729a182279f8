#include "admin/admin_server.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

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

constexpr std::chrono::seconds kConnectionDeadline{15};
constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

struct Reply {
  http::status status;
  std::string content_type;
  std::string body;
};

Reply answer(const http::request<http::string_body>& request, metrics::Metrics& metrics, const HealthState& health) {
  if (request.method() != http::verb::get && request.method() != http::verb::head) {
    return {http::status::method_not_allowed, "text/plain", "read-only: GET or HEAD\n"};
  }
  std::string_view target(request.target().data(), request.target().size());
  std::string_view path = target.substr(0, target.find('?'));
  bool verbose = target.find("verbose") != std::string_view::npos;
  if (path == "/metrics") return {http::status::ok, kMetricsContentType, metrics.serialize()};
  if (path == "/livez" || path == "/healthz") {
    bool live = health.live();
    return {live ? http::status::ok : http::status::service_unavailable, "text/plain",
            verbose ? health.describe() : std::string(live ? "ok\n" : "event loop stuck\n")};
  }
  if (path == "/readyz") {
    bool ready = health.ready() && health.live();
    return {ready ? http::status::ok : http::status::service_unavailable, "text/plain",
            verbose ? health.describe() : std::string(ready ? "ok\n" : "not ready\n")};
  }
  return {http::status::not_found, "text/plain", "not found: /metrics, /livez, /readyz, /healthz\n"};
}

// One client connection: read a request, answer, repeat while keep-alive; a deadline closes
// connections that are idle or slow.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, metrics::Metrics& metrics, const HealthState& health)
      : socket_(std::move(socket)), deadline_(socket_.get_executor()), metrics_(metrics), health_(health) {}

  void start() {
    deadline_.expires_after(kConnectionDeadline);
    deadline_.async_wait([self = shared_from_this()](beast::error_code error) {
      if (!error) self->close();
    });
    read();
  }

 private:
  void read() {
    request_ = {};
    parser_.emplace();
    parser_->body_limit(64 * 1024);
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
    Reply reply = answer(request_, metrics_, health_);
    response_ = {};
    response_.version(request_.version());
    response_.result(reply.status);
    response_.set(http::field::server, std::string("sluice/") + SLUICE_VERSION);
    response_.set(http::field::content_type, reply.content_type);
    response_.keep_alive(request_.keep_alive());
    if (request_.method() != http::verb::head) response_.body() = std::move(reply.body);
    response_.prepare_payload();
    http::async_write(socket_, response_, [self = shared_from_this()](beast::error_code error, size_t) {
      if (error || !self->response_.keep_alive()) {
        self->close();
        return;
      }
      self->read();
    });
  }

  void close() {
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    deadline_.cancel();
  }

  tcp::socket socket_;
  asio::steady_timer deadline_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
  metrics::Metrics& metrics_;
  const HealthState& health_;
};

}  // namespace

struct AdminServer::Impl {
  Impl(metrics::Metrics& metrics_ref, const HealthState& health_ref)
      : acceptor(io), metrics(metrics_ref), health(health_ref) {}

  void accept() {
    acceptor.async_accept(asio::make_strand(io), [this](beast::error_code error, tcp::socket socket) {
      if (error == asio::error::operation_aborted) return;
      if (!error) std::make_shared<Session>(std::move(socket), metrics, health)->start();
      accept();
    });
  }

  asio::io_context io{1};
  tcp::acceptor acceptor;
  std::thread thread;
  metrics::Metrics& metrics;
  const HealthState& health;
  uint16_t port = 0;
};

std::unique_ptr<AdminServer> AdminServer::start(const std::string& listen, metrics::Metrics& metrics,
                                                const HealthState& health, std::string& error) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    error = "admin.listen must be host:port, found \"" + listen + "\"";
    return nullptr;
  }
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  auto impl = std::make_unique<Impl>(metrics, health);
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
  asio::post(impl_->io, [impl = impl_.get()] {
    beast::error_code ignored;
    impl->acceptor.close(ignored);
  });
  impl_->io.stop();
  impl_->thread.join();
}

}  // namespace sluice::admin
