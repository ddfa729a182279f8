#include "support/http_test_server.h"

#include <openssl/ssl.h>

#include <atomic>
#include <fstream>
#include <future>
#include <random>
#include <mutex>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "common/text.h"

namespace sluice::test {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

constexpr uint64_t kMaxRequestBody = 64 * 1024 * 1024;

// The first port the kernel hands out for outbound connections.
int ephemeral_range_start() {
  std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 0;
  if (!(range >> low)) return 32768;
  return low;
}

}  // namespace

struct HttpTestServer::Impl {
  class Session;

  explicit Impl(const std::optional<Tls>& tls_files) {
    if (tls_files) {
      tls.emplace(ssl::context::tls_server);
      tls->use_certificate_chain_file(tls_files->cert_file);
      tls->use_private_key_file(tls_files->key_file, ssl::context::pem);
    }
  }

  // Server thread.
  void listen();
  void accept();
  void close_all();
  HttpTestResponse answer(ReceivedRequest request);

  // Runs `fn` on the server thread and waits for it.
  template <typename Fn>
  void on_server_thread(Fn fn) {
    std::promise<void> done;
    asio::post(io, [&] {
      try {
        fn();
        done.set_value();
      } catch (...) {
        done.set_exception(std::current_exception());  // rethrown to the caller by get()
      }
    });
    done.get_future().get();
  }

  std::optional<ssl::context> tls;  // before io: streams in queued handlers refer to it
  asio::io_context io{1};
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  std::thread thread;
  std::atomic<uint16_t> port{0};
  std::atomic<uint64_t> accepted{0};
  std::atomic<size_t> open{0};

  // Server thread only.
  std::optional<tcp::acceptor> acceptor;
  uint64_t listen_generation = 0;  // accept handlers of an earlier listener do nothing
  std::map<uint64_t, std::weak_ptr<Session>> sessions;

  mutable std::mutex mutex;  // guards the two below
  std::vector<ReceivedRequest> requests;
  std::function<HttpTestResponse(const ReceivedRequest&)> handler;
};

// One accepted connection: [handshake] → (read → answer after the delay → write)* → close.
class HttpTestServer::Impl::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(HttpTestServer::Impl& server, uint64_t id, tcp::socket socket)
      : server_(server), id_(id), socket_(std::move(socket)), timer_(server.io) {}

  void start() {
    if (!server_.tls) {
      read();
      return;
    }
    tls_.emplace(socket_, *server_.tls);
    tls_->async_handshake(ssl::stream_base::server, [self = shared_from_this()](const error_code& ec) {
      if (ec) {
        self->close();
        return;
      }
      const char* name = SSL_get_servername(self->tls_->native_handle(), TLSEXT_NAMETYPE_host_name);
      if (name != nullptr) self->server_name_ = name;
      self->read();
    });
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    error_code ignored;
    timer_.cancel();
    socket_.close(ignored);
    server_.sessions.erase(id_);
    server_.open.fetch_sub(1);
  }

 private:
  template <typename Fn>
  void with_stream(Fn&& fn) {
    if (tls_) {
      fn(*tls_);
    } else {
      fn(socket_);
    }
  }

  void read() {
    parser_.emplace();
    parser_->body_limit(kMaxRequestBody);
    with_stream([this](auto& stream) {
      http::async_read(stream, buffer_, *parser_,
                       [self = shared_from_this()](const error_code& ec, size_t) { self->on_read(ec); });
    });
  }

  void on_read(const error_code& ec) {
    if (closed_) return;
    if (ec) {
      close();
      return;
    }
    const http::request<http::string_body>& request = parser_->get();
    ReceivedRequest received;
    received.method = std::string(request.method_string());
    received.target = std::string(request.target());
    for (const auto& field : request) {
      std::string& value = received.headers[text::ascii_lower(field.name_string())];
      if (!value.empty()) value += ", ";
      value += std::string(field.value());
    }
    received.body = request.body();
    received.connection_id = id_;
    received.received_at = std::chrono::system_clock::now();
    received.tls_server_name = server_name_;
    const bool head = request.method() == http::verb::head;
    const bool keep_alive = request.keep_alive();

    HttpTestResponse answer = server_.answer(std::move(received));
    if (answer.drop_connection) {
      close();
      return;
    }
    build_response(answer, head, keep_alive);
    if (answer.delay.count() > 0) {
      timer_.expires_after(answer.delay);
      timer_.async_wait([self = shared_from_this()](const error_code& ec) {
        if (!ec && !self->closed_) self->write();
      });
    } else {
      write();
    }
  }

  void build_response(const HttpTestResponse& answer, bool head, bool keep_alive) {
    response_ = {};
    response_.result(static_cast<unsigned>(answer.status));
    response_.version(11);
    response_.keep_alive(keep_alive);
    for (const auto& [name, value] : answer.headers) response_.insert(name, value);
    const bool no_body = answer.status < 200 || answer.status == 204 || answer.status == 304;
    if (!no_body) {
      response_.content_length(answer.body.size());
      if (!head) response_.body() = answer.body;
    }
    close_after_ = answer.close_after || !response_.keep_alive();
  }

  void write() {
    with_stream([this](auto& stream) {
      http::async_write(stream, response_, [self = shared_from_this()](const error_code& ec, size_t) {
        if (self->closed_) return;
        if (ec || self->close_after_) {
          self->close();
        } else {
          self->read();
        }
      });
    });
  }

  HttpTestServer::Impl& server_;
  const uint64_t id_;
  tcp::socket socket_;
  std::optional<ssl::stream<tcp::socket&>> tls_;
  asio::steady_timer timer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  std::string server_name_;
  bool close_after_ = false;
  bool closed_ = false;
};

void HttpTestServer::Impl::listen() {
  // The first listen picks a port below the kernel's ephemeral range, so that while the server
  // is stopped no outbound connection on this host (a Kafka client's, say) can take it as its
  // source port, which would make start() fail to bind it again.
  std::vector<uint16_t> candidates;
  if (port.load() != 0) {
    candidates.push_back(port.load());
  } else {
    std::mt19937 random(std::random_device{}());
    const int below = ephemeral_range_start();
    for (int i = 0; i < 64 && below > 10001; ++i) {
      candidates.push_back(static_cast<uint16_t>(10000 + random() % static_cast<unsigned>(below - 10000)));
    }
    candidates.push_back(0);  // any port, as a last resort
  }
  error_code ec;
  for (uint16_t candidate : candidates) {
    acceptor.emplace(io);
    acceptor->open(tcp::v4());
    acceptor->set_option(tcp::acceptor::reuse_address(true));
    acceptor->bind(tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), candidate), ec);
    if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (!ec) break;
  }
  if (ec) throw boost::system::system_error(ec, "listening for the test http server");
  port = acceptor->local_endpoint().port();
  ++listen_generation;
  accept();
}

void HttpTestServer::Impl::accept() {
  acceptor->async_accept([this, generation = listen_generation](const error_code& ec, tcp::socket socket) {
    if (generation != listen_generation || ec == asio::error::operation_aborted) return;
    if (!ec) {
      const uint64_t id = accepted.fetch_add(1) + 1;
      open.fetch_add(1);
      auto session = std::make_shared<Session>(*this, id, std::move(socket));
      sessions[id] = session;
      session->start();
    }
    accept();
  });
}

void HttpTestServer::Impl::close_all() {
  ++listen_generation;
  if (acceptor) {
    error_code ignored;
    acceptor->close(ignored);
    acceptor.reset();
  }
  // close() erases the session from the map, so walk a copy.
  const std::map<uint64_t, std::weak_ptr<Session>> current = sessions;
  for (const auto& [id, weak] : current) {
    if (std::shared_ptr<Session> session = weak.lock()) session->close();
  }
  sessions.clear();
}

HttpTestResponse HttpTestServer::Impl::answer(ReceivedRequest request) {
  std::function<HttpTestResponse(const ReceivedRequest&)> current;
  {
    std::lock_guard lock(mutex);
    requests.push_back(request);
    current = handler;
  }
  return current ? current(request) : HttpTestResponse{};
}

HttpTestServer::HttpTestServer(std::optional<Tls> tls) : impl_(std::make_unique<Impl>(tls)) {
  impl_->listen();
  impl_->thread = std::thread([impl = impl_.get()] { impl->io.run(); });
}

HttpTestServer::~HttpTestServer() {
  impl_->on_server_thread([impl = impl_.get()] { impl->close_all(); });
  impl_->work.reset();
  impl_->io.stop();
  impl_->thread.join();
}

uint16_t HttpTestServer::port() const { return impl_->port.load(); }

std::string HttpTestServer::url(const std::string& path) const {
  return std::string(impl_->tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(port()) + path;
}

void HttpTestServer::set_handler(std::function<HttpTestResponse(const ReceivedRequest&)> handler) {
  std::lock_guard lock(impl_->mutex);
  impl_->handler = std::move(handler);
}

std::vector<ReceivedRequest> HttpTestServer::requests() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->requests;
}

size_t HttpTestServer::request_count() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->requests.size();
}

uint64_t HttpTestServer::connections_accepted() const { return impl_->accepted.load(); }

size_t HttpTestServer::open_connections() const { return impl_->open.load(); }

void HttpTestServer::stop() {
  impl_->on_server_thread([impl = impl_.get()] { impl->close_all(); });
}

void HttpTestServer::start() {
  impl_->on_server_thread([impl = impl_.get()] {
    if (!impl->acceptor) impl->listen();
  });
}

}  // namespace sluice::test
