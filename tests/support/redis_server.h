#pragma once
// A private redis-server for one test: a free loopback port, no persistence, its files in a
// temporary directory. Stopped by its pid (SIGTERM, then SIGKILL) in stop() and always in
// the destructor; start() brings it back on the same port, empty.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "support/process.h"
#include "support/temp_dir.h"

namespace sluice::test {

class RedisServer {
 public:
  // Starts at once; with a password, clients must AUTH (requirepass). Throws when
  // redis-server is missing or does not answer within a few seconds.
  explicit RedisServer(std::string password = "");
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  uint16_t port() const { return port_; }
  // redis://[:password@]127.0.0.1:<port>/<db>
  std::string url(int db = 0) const;

  void stop();
  void start();
  bool running() const { return process_ != nullptr; }
  // SIGSTOP / SIGCONT: the port stays open but nothing answers, as with a hung server.
  void pause();
  void resume();

  // Runs one command on a new connection (AUTH and SELECT first, as needed) and returns
  // the reply as text: the string of a status or bulk reply, the digits of an integer,
  // nullopt for nil, array elements joined by '\n'. An error reply or a connection
  // failure throws std::runtime_error.
  std::optional<std::string> command(const std::vector<std::string>& arguments, int db = 0) const;

 private:
  TempDir dir_;
  std::string password_;
  uint16_t port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace sluice::test
