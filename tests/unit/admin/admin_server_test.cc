// The admin server on loopback: read-only routes, /status and /config, and its connection
// limits — idle connections past the cap make room for new ones (probes keep answering), and
// idle connections are closed after the idle timeout.

#include "admin/admin_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <vector>

#include "support/http_get.h"
#include "support/wait.h"

using namespace sluice;
using namespace sluice::admin;
using namespace std::chrono_literals;

namespace {

struct Server {
  explicit Server(AdminLimits limits = {}) {
    health.beat();
    std::string error;
    server = AdminServer::start("127.0.0.1:0", {&metrics, &health, &status, "admin:\n  listen: 127.0.0.1:0\n"}, error,
                                limits);
    REQUIRE(server);
  }
  metrics::Metrics metrics;
  HealthState health;
  StatusBoard status;
  std::unique_ptr<AdminServer> server;
};

// A connected TCP socket that sends nothing; closed on destruction.
struct IdleConnection {
  explicit IdleConnection(uint16_t port) {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  ~IdleConnection() { ::close(fd); }
  // Whether the server closed it (end of stream or reset); waits at most `timeout`.
  bool closed_by_server(std::chrono::milliseconds timeout) const {
    pollfd descriptor{fd, POLLIN, 0};
    if (::poll(&descriptor, 1, static_cast<int>(timeout.count())) <= 0) return false;
    char byte;
    return ::recv(fd, &byte, 1, MSG_DONTWAIT) <= 0;
  }
  // Sends `request` and returns the first line of the answer.
  std::string exchange(const std::string& request) const {
    (void)!::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    std::string answer;
    char buffer[4096];
    pollfd descriptor{fd, POLLIN, 0};
    while (answer.find("\r\n") == std::string::npos && ::poll(&descriptor, 1, 2000) > 0) {
      ssize_t got = ::recv(fd, buffer, sizeof buffer, 0);
      if (got <= 0) break;
      answer.append(buffer, static_cast<size_t>(got));
    }
    return answer.substr(0, answer.find("\r\n"));
  }
  int fd = -1;
  bool connected = false;
};

}  // namespace

TEST_CASE("admin server: more idle connections than the cap leave /livez answering, and idle ones are closed",
          "[admin][server]") {
  AdminLimits limits;
  limits.max_connections = 8;
  limits.idle_timeout = 1500ms;
  limits.request_timeout = 500ms;
  Server admin(limits);
  const uint16_t port = admin.server->port();
  std::vector<std::unique_ptr<IdleConnection>> idle;
  for (int i = 0; i < 40; ++i) {
    idle.push_back(std::make_unique<IdleConnection>(port));
    REQUIRE(idle.back()->connected);
  }
  // The cap made room for the newest by closing the oldest: at most 8 are still open.
  auto open_count = [&] {
    int open = 0;
    for (const auto& connection : idle) open += connection->closed_by_server(0ms) ? 0 : 1;
    return open;
  };
  CHECK(test::wait_until([&] { return open_count() <= 8; }, 2s, 10ms));
  CHECK(test::http_get("127.0.0.1", port, "/livez").status == 200);
  CHECK(test::http_get("127.0.0.1", port, "/livez").status == 200);
  // Whatever stayed open is closed by the idle timeout.
  for (const auto& connection : idle) CHECK(connection->closed_by_server(3s));
  CHECK(test::http_get("127.0.0.1", port, "/livez").status == 200);
}

TEST_CASE("admin server: a request that does not arrive whole within the request timeout is cut off",
          "[admin][server]") {
  AdminLimits limits;
  limits.request_timeout = 300ms;
  Server admin(limits);
  IdleConnection slow(admin.server->port());
  REQUIRE(slow.connected);
  (void)!::send(slow.fd, "GET /livez HTTP/1.1\r\nHost: x\r\n", 31, MSG_NOSIGNAL);  // headers never end
  auto started = std::chrono::steady_clock::now();
  CHECK(slow.closed_by_server(3s));
  CHECK(std::chrono::steady_clock::now() - started < 2s);
}

TEST_CASE("admin server: GET and HEAD only, /status before and after a snapshot, /config", "[admin][server]") {
  Server admin;
  const uint16_t port = admin.server->port();
  IdleConnection post(port);
  CHECK(post.exchange("POST /readyz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n") == "HTTP/1.1 405 Method Not Allowed");
  IdleConnection del(port);
  CHECK(del.exchange("DELETE /status HTTP/1.1\r\nHost: x\r\n\r\n") == "HTTP/1.1 405 Method Not Allowed");
  IdleConnection head(port);
  CHECK(head.exchange("HEAD /livez HTTP/1.1\r\nHost: x\r\n\r\n") == "HTTP/1.1 200 OK");

  CHECK(test::http_get("127.0.0.1", port, "/status").status == 503);
  StatusSnapshot snapshot;
  snapshot.taken_at_ms = 1'795'996'800'000;
  snapshot.group_id = "g";
  snapshot.partitions.push_back({"inbound.email", 0, 1, 2, 3, 2, 0, 0, {}});
  admin.status.publish(snapshot);
  test::HttpGetResult status = test::http_get("127.0.0.1", port, "/status");
  CHECK(status.status == 200);
  CHECK(status.body.find("\"topic\":\"inbound.email\"") != std::string::npos);

  test::HttpGetResult config = test::http_get("127.0.0.1", port, "/config");
  CHECK(config.status == 200);
  CHECK(config.body == "admin:\n  listen: 127.0.0.1:0\n");

  admin.health.started.store(true);
  admin.health.joined.store(true);
  CHECK(test::http_get("127.0.0.1", port, "/readyz").status == 503);  // not in the group yet
  admin.health.set_connectivity(true, "", true, "");
  CHECK(test::http_get("127.0.0.1", port, "/readyz").status == 200);
}
