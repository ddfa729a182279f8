#pragma once
// Shared by the HTTP client tests: a collector that awaits completions, a way to let the io
// thread catch up, and a server that answers with scripted raw bytes (for responses no real
// HTTP server would send).

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <catch2/catch.hpp>

#include "http/http_client.h"
#include "support/http_test_server.h"

namespace sluice::http::testing {

using namespace std::chrono_literals;

// Answers for the test server (designated initializers would have to name every field).
inline test::HttpTestResponse answer(int status, std::string body = "ok",
                                     std::vector<std::pair<std::string, std::string>> headers = {}) {
  test::HttpTestResponse response;
  response.status = status;
  response.body = std::move(body);
  response.headers = std::move(headers);
  return response;
}

inline test::HttpTestResponse delayed(std::chrono::milliseconds delay) {
  test::HttpTestResponse response;
  response.delay = delay;
  return response;
}

inline test::HttpTestResponse dropped() {
  test::HttpTestResponse response;
  response.drop_connection = true;
  return response;
}

inline test::HttpTestResponse closed_after() {
  test::HttpTestResponse response;
  response.close_after = true;
  return response;
}

// Completions in arrival order. Must outlive the client: its destructor may still report
// Cancelled requests.
class Completions {
 public:
  CompletionHandler handler() {
    return [this](Response response) {
      std::lock_guard lock(mutex_);
      responses_.push_back(std::move(response));
      changed_.notify_all();
    };
  }

  bool wait_for(size_t count, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return responses_.size() >= count; });
  }

  size_t size() const {
    std::lock_guard lock(mutex_);
    return responses_.size();
  }

  std::vector<Response> all() const {
    std::lock_guard lock(mutex_);
    return responses_;
  }

  Response at(size_t index) const {
    std::lock_guard lock(mutex_);
    REQUIRE(index < responses_.size());
    return responses_[index];
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Response> responses_;
};

// Returns once the io thread has run everything queued before this call.
inline void drain(boost::asio::io_context& io) {
  std::promise<void> done;
  boost::asio::post(io, [&] { done.set_value(); });
  REQUIRE(done.get_future().wait_for(10s) == std::future_status::ready);
}

inline ClientSettings settings_for(const std::string& url) {
  ClientSettings settings;
  settings.url = url;
  settings.timeout = 10s;
  return settings;
}

inline std::unique_ptr<HttpClient> make_client(boost::asio::io_context& io, const ClientSettings& settings,
                                               Completions& completions) {
  std::string error;
  std::unique_ptr<HttpClient> client = HttpClient::create(io, settings, completions.handler(), error);
  INFO(error);
  REQUIRE(client != nullptr);
  return client;
}

inline Request request(uint64_t token, std::string body = R"({"n":1})") {
  Request request;
  request.token = token;
  request.body = std::move(body);
  return request;
}

// Submits one request and waits for its completion (the next one to arrive).
inline Response exchange(HttpClient& client, Completions& completions, Request request) {
  const size_t before = completions.size();
  client.submit(std::move(request));
  REQUIRE(completions.wait_for(before + 1));
  return completions.at(before);
}

// A listening TCP socket on 127.0.0.1 and a free port, for the raw servers below.
inline int listen_on_loopback(uint16_t& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
  REQUIRE(::listen(fd, 16) == 0);
  socklen_t length = sizeof(address);
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
  port = ntohs(address.sin_port);
  return fd;
}

// A TCP server on 127.0.0.1 that answers each connection by reading one request head, then
// writing `reply` and (unless `keep_open`) closing. Plain blocking sockets on one thread: one
// connection at a time is all these tests need.
class ScriptedServer {
 public:
  explicit ScriptedServer(std::string reply, bool keep_open = false) : reply_(std::move(reply)), keep_open_(keep_open) {
    listen_fd_ = listen_on_loopback(port_);
    thread_ = std::thread([this] { serve(); });
  }

  ~ScriptedServer() {
    stopping_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    thread_.join();
    for (int fd : held_) ::close(fd);
    ::close(listen_fd_);
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/"; }
  int connections() const { return connections_.load(); }

 private:
  void serve() {
    while (!stopping_) {
      const int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;
      ++connections_;
      std::string head;
      char buffer[4096];
      while (head.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
        if (n <= 0) break;
        head.append(buffer, static_cast<size_t>(n));
      }
      size_t written = 0;
      while (written < reply_.size()) {
        const ssize_t n = ::send(fd, reply_.data() + written, reply_.size() - written, MSG_NOSIGNAL);
        if (n <= 0) break;
        written += static_cast<size_t>(n);
      }
      if (keep_open_) {
        held_.push_back(fd);  // closed by the destructor: the client must give up on its own
      } else {
        ::close(fd);
      }
    }
  }

  const std::string reply_;
  const bool keep_open_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::vector<int> held_;  // server thread until it has been joined
};

// A TCP server on 127.0.0.1 that only a pipelining client can use: on its first connection
// it answers nothing until `hold` complete requests have arrived, then answers all of them in
// one write (200, each request's body echoed back); later connections are answered request by
// request. With `close_after` > 0 the first connection is closed after that many answers,
// the last of them saying `Connection: close` when `announce_close`. Blocking sockets on one
// thread, one connection at a time.
class PipeliningServer {
 public:
  PipeliningServer(size_t hold, size_t close_after = 0, bool announce_close = false)
      : hold_(hold), close_after_(close_after), announce_close_(announce_close) {
    listen_fd_ = listen_on_loopback(port_);
    thread_ = std::thread([this] { serve(); });
  }

  ~PipeliningServer() {
    stopping_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    ::shutdown(connection_fd_.load(), SHUT_RDWR);
    thread_.join();
    ::close(listen_fd_);
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/"; }
  int connections() const { return connections_.load(); }
  int closed() const { return closed_.load(); }
  // Bodies of the requests received, in arrival order, with the connection (1, 2, ...) of each.
  std::vector<std::pair<int, std::string>> received() const {
    std::lock_guard lock(mutex_);
    return received_;
  }

 private:
  void serve() {
    while (!stopping_) {
      const int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;
      connection_fd_ = fd;
      const int connection = ++connections_;
      serve_connection(fd, connection);
      connection_fd_ = -1;
      ::close(fd);
      ++closed_;
    }
  }

  void serve_connection(int fd, int connection) {
    const bool first = connection == 1;
    const size_t hold = first ? hold_ : 1;
    std::string buffer;
    std::vector<std::string> unanswered;
    size_t answered = 0;
    char chunk[4096];
    for (;;) {
      // Every complete request in the buffer.
      for (;;) {
        const size_t head_end = buffer.find("\r\n\r\n");
        if (head_end == std::string::npos) break;
        const size_t length_at = buffer.find("Content-Length: ");
        if (length_at > head_end) return;  // not from this client: the test fails on its answers
        const size_t body_size = std::stoul(buffer.substr(length_at + 16));
        if (buffer.size() < head_end + 4 + body_size) break;
        std::string body = buffer.substr(head_end + 4, body_size);
        buffer.erase(0, head_end + 4 + body_size);
        {
          std::lock_guard lock(mutex_);
          received_.emplace_back(connection, body);
        }
        unanswered.push_back(std::move(body));
      }
      if (unanswered.size() >= hold) {
        std::string replies;
        bool closing = false;
        for (const std::string& body : unanswered) {
          ++answered;
          closing = first && answered == close_after_;
          replies += "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
                     (closing && announce_close_ ? "Connection: close\r\n" : "") + "\r\n" + body;
          if (closing) break;
        }
        unanswered.clear();
        if (::send(fd, replies.data(), replies.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(replies.size())) return;
        if (closing) return;
      }
      const ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
      if (n <= 0) return;
      buffer.append(chunk, static_cast<size_t>(n));
    }
  }

  const size_t hold_;
  const size_t close_after_;
  const bool announce_close_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connection_fd_{-1};
  std::atomic<int> connections_{0};
  std::atomic<int> closed_{0};
  mutable std::mutex mutex_;
  std::vector<std::pair<int, std::string>> received_;
};

}  // namespace sluice::http::testing
