#include "bench/bench_http_sink.h"

#include <algorithm>
#include <optional>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string_view>

namespace sluice::bench {
namespace {

constexpr std::string_view kResponse = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok";

// The value of header `name` (lowercase, with its colon) in a header block; nullopt when absent.
std::optional<std::string_view> header_value(std::string_view head, std::string_view name) {
  for (size_t line = 0; line < head.size();) {
    size_t end = head.find("\r\n", line);
    if (end == std::string_view::npos) end = head.size();
    std::string_view text = head.substr(line, end - line);
    if (text.size() > name.size()) {
      bool match = true;
      for (size_t i = 0; i < name.size() && match; ++i) {
        match = static_cast<char>(std::tolower(static_cast<unsigned char>(text[i]))) == name[i];
      }
      if (match) return text.substr(name.size());
    }
    line = end + 2;
  }
  return std::nullopt;
}

// Content-Length of a header block (case-insensitive name); 0 when absent.
size_t content_length(std::string_view head) {
  std::optional<std::string_view> value = header_value(head, "content-length:");
  return value ? std::stoul(std::string(*value)) : 0;
}

// Records in a request: those X-Sluice-Sources lists (a batch), else one.
int64_t records_in(std::string_view head) {
  std::optional<std::string_view> sources = header_value(head, "x-sluice-sources:");
  return sources ? 1 + std::count(sources->begin(), sources->end(), ',') : 1;
}

}  // namespace

HttpSink::HttpSink() {
  listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  int on = 1;
  ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(listener_, 128) != 0) {
    ::close(listener_);
    throw std::runtime_error(std::string("bind/listen: ") + std::strerror(errno));
  }
  socklen_t length = sizeof address;
  ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
  port_ = ntohs(address.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

HttpSink::~HttpSink() {
  stopping_ = true;
  // shutdown() wakes the threads blocked in accept() and recv(); close() alone would not.
  ::shutdown(listener_, SHUT_RDWR);
  acceptor_.join();
  ::close(listener_);
  {
    std::lock_guard lock(connections_mutex_);
    for (int fd : connection_fds_) ::shutdown(fd, SHUT_RDWR);
  }
  for (std::thread& connection : connections_) connection.join();
  for (int fd : connection_fds_) ::close(fd);
}

std::string HttpSink::url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/messages"; }

void HttpSink::accept_loop() {
  while (!stopping_) {
    int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;
    }
    int on = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    std::lock_guard lock(connections_mutex_);
    connection_fds_.push_back(fd);
    connections_.emplace_back([this, fd] { serve(fd); });
  }
}

void HttpSink::serve(int fd) {
  std::string buffer;
  char chunk[64 * 1024];
  while (!stopping_) {
    // Answer every complete request in the buffer (a client may pipeline), then read more.
    size_t head_end;
    while ((head_end = buffer.find("\r\n\r\n")) != std::string::npos) {
      const std::string_view head = std::string_view(buffer).substr(0, head_end);
      size_t body = content_length(head);
      size_t total = head_end + 4 + body;
      if (buffer.size() < total) break;
      records_.fetch_add(records_in(head), std::memory_order_relaxed);
      buffer.erase(0, total);
      requests_.fetch_add(1, std::memory_order_relaxed);
      body_bytes_.fetch_add(static_cast<int64_t>(body), std::memory_order_relaxed);
      if (::send(fd, kResponse.data(), kResponse.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(kResponse.size())) {
        return;
      }
    }
    ssize_t got = ::recv(fd, chunk, sizeof chunk, 0);
    if (got <= 0) break;
    buffer.append(chunk, static_cast<size_t>(got));
  }
  // The descriptor stays open until destruction, so its number cannot be reused by another
  // connection while the destructor may still shut it down.
}

}  // namespace sluice::bench
