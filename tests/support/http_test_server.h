#pragma once
// An HTTP/1.1 server inside the test process, on its own thread, bound to 127.0.0.1 on a free
// port; optionally TLS. A handler decides each answer: its status, body and headers, a delay
// (a timer, so other connections are served meanwhile), or dropping the connection. Every
// request is recorded before the handler runs, so a dropped one is still visible.
//
// Keep-alive follows the request unless the answer ends the connection: `close_after` closes
// it right after the response without saying so (as a server whose idle timeout fires at that
// moment), while a `Connection: close` header in the answer announces the close.
//
// Threading: the handler runs on the server thread; every method may be called from any other
// thread (stop() and start() wait for the server thread, so not from the handler).

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sluice::test {

struct HttpTestResponse {
  int status = 200;
  std::string body = "ok";
  std::vector<std::pair<std::string, std::string>> headers;
  std::chrono::milliseconds delay{0};
  bool drop_connection = false;  // close the connection instead of answering
  bool close_after = false;      // close the connection after answering, without announcing it
};

struct ReceivedRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lowercase names; repeated headers joined with ", "
  std::string body;
  uint64_t connection_id = 0;  // 1, 2, ... in the order connections were accepted
  std::chrono::system_clock::time_point received_at;
  std::string tls_server_name;  // the SNI the client sent (TLS only)
};

class HttpTestServer {
 public:
  struct Tls {
    std::string cert_file;
    std::string key_file;
  };

  explicit HttpTestServer(std::optional<Tls> tls = std::nullopt);
  ~HttpTestServer();
  HttpTestServer(const HttpTestServer&) = delete;
  HttpTestServer& operator=(const HttpTestServer&) = delete;

  uint16_t port() const;
  // http(s)://127.0.0.1:port/path
  std::string url(const std::string& path = "/messages") const;
  // The default handler answers 200 "ok".
  void set_handler(std::function<HttpTestResponse(const ReceivedRequest&)> handler);

  std::vector<ReceivedRequest> requests() const;
  size_t request_count() const;
  uint64_t connections_accepted() const;
  size_t open_connections() const;

  // Closes the listener and every open connection: connecting is refused until start().
  void stop();
  // Listens again on the same port.
  void start();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::test
