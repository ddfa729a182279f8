#pragma once
// The HTTP endpoint of the HTTP-route scenario: a minimal HTTP/1.1 keep-alive server that
// answers every request 200 and counts it. It is deliberately cheaper than any real
// application (one blocking thread per connection, no parsing beyond Content-Length), so the
// scenario measures sluice's HTTP client, not the server. A batch request counts its records
// (X-Sluice-Sources lists them).

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sluice::bench {

class HttpSink {
 public:
  // Listens on 127.0.0.1 on a free port; throws when it cannot.
  HttpSink();
  ~HttpSink();
  HttpSink(const HttpSink&) = delete;
  HttpSink& operator=(const HttpSink&) = delete;

  std::string url() const;
  int64_t requests() const { return requests_.load(std::memory_order_relaxed); }
  // Records the requests carried: one each, or a batch's.
  int64_t records() const { return records_.load(std::memory_order_relaxed); }
  int64_t body_bytes() const { return body_bytes_.load(std::memory_order_relaxed); }

 private:
  void accept_loop();
  void serve(int fd);

  int listener_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> requests_{0};
  std::atomic<int64_t> records_{0};
  std::atomic<int64_t> body_bytes_{0};
  std::thread acceptor_;
  std::mutex connections_mutex_;
  std::vector<int> connection_fds_;
  std::vector<std::thread> connections_;
};

}  // namespace sluice::bench
