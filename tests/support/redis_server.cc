#include "support/redis_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "support/wait.h"

namespace sluice::test {
namespace {

using namespace std::chrono_literals;

constexpr char kRedisServer[] = "/usr/bin/redis-server";
constexpr std::chrono::seconds kClientTimeout{5};

[[noreturn]] void fail(const std::string& why) { throw std::runtime_error("redis test client: " + why); }

// A port the kernel considered free a moment ago. Another process may take it before
// redis-server binds it; the constructor then tries another.
uint16_t free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) fail(std::string("socket: ") + std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  ::close(fd);
  if (!ok) fail("cannot find a free port");
  return ntohs(address.sin_port);
}

// One blocking connection with a receive timeout, closed on destruction.
class Connection {
 public:
  explicit Connection(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) fail(std::string("socket: ") + std::strerror(errno));
    timeval timeout{};
    timeout.tv_sec = kClientTimeout.count();
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(port);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      const std::string why = std::strerror(errno);
      ::close(fd_);
      fail("connect: " + why);
    }
  }
  ~Connection() { ::close(fd_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  std::optional<std::string> call(const std::vector<std::string>& arguments) {
    std::string request = "*" + std::to_string(arguments.size()) + "\r\n";
    for (const std::string& argument : arguments) {
      request += "$" + std::to_string(argument.size()) + "\r\n" + argument + "\r\n";
    }
    size_t sent = 0;
    while (sent < request.size()) {
      const ssize_t n = ::send(fd_, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) fail(std::string("send: ") + std::strerror(errno));
      sent += static_cast<size_t>(n);
    }
    return read_reply();
  }

 private:
  std::optional<std::string> read_reply() {
    const std::string line = read_line();
    if (line.empty()) fail("empty reply line");
    const std::string rest = line.substr(1);
    switch (line[0]) {
      case '+':
      case ':':
        return rest;
      case '-':
        throw std::runtime_error("redis error reply: " + rest);
      case '$': {
        const long length = std::stol(rest);
        if (length < 0) return std::nullopt;
        std::string value = read_bytes(static_cast<size_t>(length) + 2);
        value.resize(static_cast<size_t>(length));
        return value;
      }
      case '*': {
        const long count = std::stol(rest);
        if (count < 0) return std::nullopt;
        std::string joined;
        for (long i = 0; i < count; ++i) {
          if (i > 0) joined += '\n';
          joined += read_reply().value_or("");
        }
        return joined;
      }
      default:
        fail("unexpected reply: " + line);
    }
  }

  std::string read_line() {
    for (;;) {
      const size_t end = buffer_.find("\r\n");
      if (end != std::string::npos) {
        std::string line = buffer_.substr(0, end);
        buffer_.erase(0, end + 2);
        return line;
      }
      receive();
    }
  }

  std::string read_bytes(size_t count) {
    while (buffer_.size() < count) receive();
    std::string bytes = buffer_.substr(0, count);
    buffer_.erase(0, count);
    return bytes;
  }

  void receive() {
    char chunk[16384];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) return;
    if (n < 0) fail(std::string("recv: ") + std::strerror(errno));
    if (n == 0) fail("connection closed");
    buffer_.append(chunk, static_cast<size_t>(n));
  }

  int fd_ = -1;
  std::string buffer_;
};

}  // namespace

RedisServer::RedisServer(std::string password) : password_(std::move(password)) {
  if (::access(kRedisServer, X_OK) != 0) throw std::runtime_error(std::string(kRedisServer) + " is not installed");
  // Another process may take the chosen port first; then try another.
  for (int attempt = 0;; ++attempt) {
    port_ = free_loopback_port();
    try {
      start();
      return;
    } catch (const std::exception&) {
      if (attempt == 2) throw;
    }
  }
}

RedisServer::~RedisServer() { stop(); }

std::string RedisServer::url(int db) const {
  const std::string auth = password_.empty() ? "" : ":" + password_ + "@";
  return "redis://" + auth + "127.0.0.1:" + std::to_string(port_) + "/" + std::to_string(db);
}

void RedisServer::start() {
  if (process_) return;
  std::vector<std::string> argv = {kRedisServer, "--port", std::to_string(port_), "--bind", "127.0.0.1",
                                   "--save", "", "--appendonly", "no", "--daemonize", "no",
                                   "--dir", dir_.path(), "--logfile", ""};
  if (!password_.empty()) {
    argv.push_back("--requirepass");
    argv.push_back(password_);
  }
  process_ = std::make_unique<ChildProcess>(argv, dir_.file("stdout"), dir_.file("stderr"));
  // Ready once it answers, and it is this process answering (not one that had the port).
  const std::string own_pid = "process_id:" + std::to_string(process_->pid()) + "\r\n";
  const bool ready = wait_until(
      [&] {
        if (!process_->running()) return true;
        try {
          return command({"INFO", "server"}).value_or("").find(own_pid) != std::string::npos;
        } catch (const std::exception&) {
          return false;
        }
      },
      10s, 10ms);
  if (!ready || !process_->running()) {
    const std::string output = read_file(dir_.file("stdout")) + read_file(dir_.file("stderr"));
    process_.reset();  // killed and reaped
    throw std::runtime_error("redis-server did not start on port " + std::to_string(port_) + ": " + output);
  }
}

void RedisServer::stop() {
  if (!process_) return;
  process_->signal(SIGTERM);
  process_->signal(SIGCONT);  // a paused server handles SIGTERM only once continued
  if (!process_->wait(5s)) {
    process_->signal(SIGKILL);
    process_->wait(5s);
  }
  process_.reset();
}

void RedisServer::pause() {
  if (process_) process_->signal(SIGSTOP);
}

void RedisServer::resume() {
  if (process_) process_->signal(SIGCONT);
}

std::optional<std::string> RedisServer::command(const std::vector<std::string>& arguments, int db) const {
  Connection connection(port_);
  if (!password_.empty()) connection.call({"AUTH", password_});
  if (db != 0) connection.call({"SELECT", std::to_string(db)});
  return connection.call(arguments);
}

}  // namespace sluice::test
