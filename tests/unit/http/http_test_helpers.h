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

// A TCP server on 127.0.0.1 that answers each connection by reading one request head, then
// writing `reply` and (unless `keep_open`) closing. Plain blocking sockets on one thread: one
// connection at a time is all these tests need.
class ScriptedServer {
 public:
  explicit ScriptedServer(std::string reply, bool keep_open = false) : reply_(std::move(reply)), keep_open_(keep_open) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(listen_fd_ >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
    REQUIRE(::listen(listen_fd_, 16) == 0);
    socklen_t length = sizeof(address);
    REQUIRE(::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) == 0);
    port_ = ntohs(address.sin_port);
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

}  // namespace sluice::http::testing
