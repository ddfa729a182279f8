// HttpClient against servers that answer badly: malformed or endless responses, stalls, bytes
// past the response.

#include <atomic>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "http/http_client.h"
#include "support/http_test_server.h"
#include "support/wait.h"
#include "unit/http/http_test_helpers.h"

namespace sluice::http {
namespace {

using namespace std::chrono_literals;
using testing::answer;
using testing::Completions;
using testing::exchange;
using testing::make_client;
using testing::request;
using testing::ScriptedServer;
using testing::settings_for;
using Outcome = Response::Outcome;

TEST_CASE("hostile responses are failures, never answers", "[http][client][hostile]") {
  HttpRuntime runtime;
  Completions completions;
  struct Case {
    const char* what;
    std::string reply;
  };
  const Case cases[] = {
      {"garbage", "SSH-2.0-OpenSSH_9.2\r\n\r\n"},
      {"a truncated body", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort"},
      {"a header above the limit", "HTTP/1.1 200 OK\r\nX-Big: " + std::string(200'000, 'h') + "\r\n\r\n"},
      {"a bad chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"},
      {"nothing at all", ""},
  };
  for (const Case& c : cases) {
    SECTION(c.what) {
      ScriptedServer server(c.reply);
      auto client = make_client(runtime.io(), settings_for(server.url()), completions);
      const Response response = exchange(*client, completions, request(1));
      CHECK(response.outcome == Outcome::ConnectionLost);
      CHECK_FALSE(response.error.empty());
    }
  }
}

TEST_CASE("a server that stalls mid-response is cut off at the deadline", "[http][client][hostile]") {
  ScriptedServer server("HTTP/1.1 200 OK\r\nContent-Le", true);
  HttpRuntime runtime;
  Completions completions;
  ClientSettings settings = settings_for(server.url());
  settings.timeout = 200ms;
  auto client = make_client(runtime.io(), settings, completions);
  CHECK(exchange(*client, completions, request(1)).outcome == Outcome::TimedOut);
}

TEST_CASE("an interim 100 Continue is skipped", "[http][client][hostile]") {
  ScriptedServer server("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n");
  HttpRuntime runtime;
  Completions completions;
  auto client = make_client(runtime.io(), settings_for(server.url()), completions);
  const Response response = exchange(*client, completions, request(1));
  CHECK(response.outcome == Outcome::Status);
  CHECK(response.status == 204);
}

TEST_CASE("bytes beyond the response make the connection unusable", "[http][client][hostile]") {
  ScriptedServer server("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 500 Smuggled\r\n\r\n", true);
  HttpRuntime runtime;
  Completions completions;
  auto client = make_client(runtime.io(), settings_for(server.url()), completions);
  CHECK(exchange(*client, completions, request(1)).status == 200);
  const Response second = exchange(*client, completions, request(2));
  CHECK(second.status == 200);  // from a new connection, not the smuggled 500
  CHECK(server.connections() == 2);
}

}  // namespace
}  // namespace sluice::http
