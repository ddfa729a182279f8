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
using test::HttpTestResponse;
using test::HttpTestServer;
using test::ReceivedRequest;
using testing::answer;
using testing::closed_after;
using testing::Completions;
using testing::delayed;
using testing::drain;
using testing::dropped;
using testing::exchange;
using testing::make_client;
using testing::request;
using testing::PipeliningServer;
using testing::ScriptedServer;
using testing::settings_for;
using Outcome = Response::Outcome;

TEST_CASE("a POST arrives with its headers and body, and its status comes back", "[http][client]") {
  HttpTestServer server;
  server.set_handler([](const ReceivedRequest&) { return answer(201, "created"); });
  HttpRuntime runtime;
  Completions completions;
  ClientSettings settings = settings_for(server.url("/messages?tenant=a"));
  settings.headers = {{"Authorization", "Bearer s3cret"}, {"X-Route", "orders"}};
  auto client = make_client(runtime.io(), settings, completions);

  Request sent = request(42, R"({"order_id":"A-1","note":"caf\u00e9 \"quoted\""})");
  sent.headers = {{"Idempotency-Key", "9f86d081"}};
  const Response response = exchange(*client, completions, sent);

  CHECK(response.token == 42);
  CHECK(response.outcome == Outcome::Status);
  CHECK(response.status == 201);
  CHECK(response.body_excerpt == "created");
  CHECK(response.retry_after == std::nullopt);
  CHECK(response.error.empty());

  const std::vector<ReceivedRequest> received = server.requests();
  REQUIRE(received.size() == 1);
  const ReceivedRequest& got = received[0];
  CHECK(got.method == "POST");
  CHECK(got.target == "/messages?tenant=a");
  CHECK(got.body == sent.body);
  CHECK(got.headers.at("host") == "127.0.0.1:" + std::to_string(server.port()));
  CHECK(got.headers.at("user-agent") == "sluice");
  CHECK(got.headers.at("content-type") == "application/json");
  CHECK(got.headers.at("content-length") == std::to_string(sent.body.size()));
  CHECK(got.headers.at("authorization") == "Bearer s3cret");
  CHECK(got.headers.at("x-route") == "orders");
  CHECK(got.headers.at("idempotency-key") == "9f86d081");
  CHECK(got.headers.count("connection") == 0);  // HTTP/1.1 keeps the connection by default
}

TEST_CASE("a request's own Content-Type replaces the default", "[http][client]") {
  HttpTestServer server;
  HttpRuntime runtime;
  Completions completions;
  auto client = make_client(runtime.io(), settings_for(server.url()), completions);
  Request sent = request(1, "a\nb\n");
  sent.headers = {{"Content-Type", "application/x-ndjson"}};
  REQUIRE(exchange(*client, completions, sent).status == 200);
  CHECK(server.requests().at(0).headers.at("content-type") == "application/x-ndjson");
}

TEST_CASE("100 sequential requests use one connection", "[http][client][pool]") {
  HttpTestServer server;
  HttpRuntime runtime;
  Completions completions;
  auto client = make_client(runtime.io(), settings_for(server.url()), completions);
  for (uint64_t token = 1; token <= 100; ++token) {
    const Response response = exchange(*client, completions, request(token));
    REQUIRE(response.outcome == Outcome::Status);
    REQUIRE(response.token == token);
  }
  CHECK(server.connections_accepted() == 1);
  CHECK(client->stats().connections_opened == 1);
  CHECK(client->stats().requests_sent == 100);
  CHECK(server.request_count() == 100);
}

TEST_CASE("200 concurrent requests share max_connections connections", "[http][client][pool]") {
  HttpTestServer server;
  // Slow enough that requests pile up and the pool has to grow to its limit.
  server.set_handler([](const ReceivedRequest&) { return delayed(5ms); });
  HttpRuntime runtime;
  Completions completions;
  ClientSettings settings = settings_for(server.url());
  settings.max_connections = 4;
  auto client = make_client(runtime.io(), settings, completions);
  for (uint64_t token = 1; token <= 200; ++token) client->submit(request(token));
  REQUIRE(completions.wait_for(200, 30s));

  std::set<uint64_t> tokens;
  for (const Response& response : completions.all()) {
    CHECK(response.outcome == Outcome::Status);
    CHECK(response.status == 200);
    tokens.insert(response.token);
  }
  CHECK(tokens.size() == 200);
  CHECK(server.connections_accepted() == 4);
  CHECK(client->stats().connections_opened == 4);
}

TEST_CASE("waiting requests are sent in the order they were submitted, one by one or as a batch",
          "[http][client][pool]") {
  const bool as_batch = GENERATE(false, true);
  HttpTestServer server;
  HttpRuntime runtime;
  Completions completions;
  ClientSettings settings = settings_for(server.url());
  settings.max_connections = 1;
  auto client = make_client(runtime.io(), settings, completions);
  std::vector<Request> batch;
  for (uint64_t token = 1; token <= 20; ++token) {
    if (as_batch) {
      batch.push_back(request(token, std::to_string(token)));
    } else {
      client->submit(request(token, std::to_string(token)));
    }
  }
  if (as_batch) {
    client->submit(batch);
    CHECK(batch.empty());
  }
  REQUIRE(completions.wait_for(20));
  const std::vector<ReceivedRequest> received = server.requests();
  REQUIRE(received.size() == 20);
  for (size_t i = 0; i < received.size(); ++i) CHECK(received[i].body == std::to_string(i + 1));
  std::set<uint64_t> tokens;
  for (const Response& response : completions.all()) tokens.insert(response.token);
  CHECK(tokens.size() == 20);

  // After shutdown a batch is dropped without completions, like a single request.
  client->shutdown();
  batch.push_back(request(21));
  client->submit(batch);
  CHECK(batch.empty());
  client->submit(request(22));
  drain(runtime.io());
  CHECK(completions.all().size() == 20);
}

TEST_CASE("a response slower than the timeout is TimedOut, and the pool recovers", "[http][client][timeout]") {
  HttpTestServer server;
  server.set_handler([](const ReceivedRequest& got) { return got.body == "slow" ? delayed(60s) : HttpTestResponse{}; });
  HttpRuntime runtime;
  Completions completions;
  ClientSettings settings = settings_for(server.url());
  settings.timeout = 300ms;
  settings.max_connections = 1;
  auto client = make_client(runtime.io(), settings, completions);

  const auto start = std::chrono::steady_clock::now();
  const Response slow = exchange(*client, completions, request(1, "slow"));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(slow.outcome == Outcome::TimedOut);
  CHECK_THAT(slow.error, Catch::Contains("300ms"));
  CHECK(elapsed >= 300ms);
  CHECK(elapsed < 5s);

  // The only slot was freed: the next request gets a fresh connection and an answer.
  const Response fast = exchange(*client, completions, request(2, "fast"));
  CHECK(fast.outcome == Outcome::Status);
  CHECK(fast.status == 200);
  CHECK(server.connections_accepted() == 2);
}

TEST_CASE("a server that is down is ConnectFailed, and reachable again once it is up", "[http][client]") {
  HttpTestServer server;
  HttpRuntime runtime;
  Completions completions;
  auto client = make_client(runtime.io(), settings_for(server.url()), completions);
  server.stop();
  const Response refused = exchange(*client, completions, request(1));
  CHECK(refused.outcome == Outcome::ConnectFailed);
  CHECK_THAT(refused.error, Catch::Contains("127.0.0.1:" + std::to_string(server.port())));
  CHECK(server.request_count() == 0);

  server.start();
  CHECK(exchange(*client, completions, request(2)).status == 200);
}

TEST_CASE("every queued request is reported when the server is down", "[http][client]") {
  HttpTestServer server;
  server.stop();
  HttpRuntime runtime;
  Completions completions;
  ClientSettings settings = settings_for(server.url());
  settings.max_connections = 2;
  auto client = make_client(runtime.io(), settings, completions);
  for (uint64_t token = 1; token <= 10; ++token) client->submit(request(token));
  REQUIRE(completions.wait_for(10));
  for (const Response& response : completions.all()) CHECK(response.outcome == Outcome::ConnectFailed);
}

TEST_CASE("a connection closed by the server while idle is replaced without a failure", "[http][client][resend]") {
  HttpTestServer server;
  // Every connection is closed right after its response, unannounced, as by an idle timeout.
  server.set_handler([](const ReceivedRequest&) { return closed_after(); });
  HttpRuntime runtime;
  Completions completions;
  ClientSettings settings = settings_for(server.url());
  settings.max_connections = 1;
  auto client = make_client(runtime.io(), settings, completions);
  for (uint64_t token = 1; token <= 5; ++token) {
    const Response response = exchange(*client, completions, request(token));
    CHECK(response.outcome == Outcome::Status);
    CHECK(response.status == 200);
  }
  CHECK(server.request_count() == 5);
  CHECK(server.connections_accepted() == 5);
  // Requests 2 to 5 each went first to the dead connection, then to a fresh one.
  CHECK(client->stats().requests_sent == 9);
  CHECK(client->stats().requests_resent == 4);
}

TEST_CASE("a request is sent at most once more: a second failure is reported", "[http][client][resend]") {
  HttpTestServer server;
  std::atomic<int> seen{0};
  server.set_handler([&](const ReceivedRequest&) { return ++seen == 1 ? closed_after() : dropped(); });
  HttpRuntime runtime;
  Completions completions;
  auto client = make_client(runtime.io(), settings_for(server.url()), completions);
  CHECK(exchange(*client, completions, request(1)).status == 200);

  const Response lost = exchange(*client, completions, request(2));
  CHECK(lost.outcome == Outcome::ConnectionLost);
  CHECK(server.request_count() == 2);  // the first attempt found the connection already closed
  CHECK(client->stats().requests_sent == 3);
  CHECK(client->stats().requests_resent == 1);
}

TEST_CASE("a dropped connection on a fresh connection is ConnectionLost at once", "[http][client][resend]") {
  HttpTestServer server;
  server.set_handler([](const ReceivedRequest&) { return dropped(); });
  HttpRuntime runtime;
  Completions completions;
  auto client = make_client(runtime.io(), settings_for(server.url()), completions);
  const Response lost = exchange(*client, completions, request(1));
  CHECK(lost.outcome == Outcome::ConnectionLost);
  CHECK_FALSE(lost.error.empty());
  CHECK(server.request_count() == 1);
  CHECK(client->stats().requests_sent == 1);
  CHECK(client->stats().requests_resent == 0);
}

TEST_CASE("a request dropped on a reused connection is sent once more on a fresh one", "[http][client][resend]") {
  HttpTestServer server;
  std::atomic<int> seen{0};
  server.set_handler([&](const ReceivedRequest&) { return ++seen == 2 ? dropped() : answer(200, "third"); });
  HttpRuntime runtime;
  Completions completions;
  auto client = make_client(runtime.io(), settings_for(server.url()), completions);
  CHECK(exchange(*client, completions, request(1)).status == 200);
  const Response again = exchange(*client, completions, request(2, "payload"));
  CHECK(again.outcome == Outcome::Status);
  CHECK(again.body_excerpt == "third");
  const std::vector<ReceivedRequest> received = server.requests();
  REQUIRE(received.size() == 3);
  CHECK(received[1].body == "payload");
  CHECK(received[2].body == "payload");
  CHECK(received[2].connection_id != received[1].connection_id);
  CHECK(server.connections_accepted() == 2);
}

// A client with one connection to `url` that pipelines up to `depth` requests.
struct OneConnection {
  OneConnection(const std::string& url, int depth, std::chrono::milliseconds timeout = 10s) {
    ClientSettings settings = settings_for(url);
    settings.max_connections = 1;
    settings.pipeline_depth = depth;
    settings.timeout = timeout;
    client = make_client(runtime.io(), settings, completions);
  }

  // Tokens first..last with bodies "body-<token>", submitted as one batch.
  void submit_numbered(uint64_t first, uint64_t last) {
    std::vector<Request> batch;
    for (uint64_t token = first; token <= last; ++token) batch.push_back(request(token, "body-" + std::to_string(token)));
    client->submit(batch);
  }

  // Every completion is a 200 with its request's body echoed: responses were matched in order.
  void check_echoed(size_t count) const {
    std::set<uint64_t> tokens;
    for (const Response& response : completions.all()) {
      INFO("token " << response.token << ": " << response.error);
      CHECK(response.outcome == Outcome::Status);
      CHECK(response.status == 200);
      CHECK(response.body_excerpt == "body-" + std::to_string(response.token));
      tokens.insert(response.token);
    }
    CHECK(tokens.size() == count);
  }

  HttpRuntime runtime;
  Completions completions;  // outlives the client, which may still report to it
  std::unique_ptr<HttpClient> client;
};

TEST_CASE("with pipelining, one connection carries several requests before the first answer", "[http][client][pipeline]") {
  // The server answers only once four requests wait on the connection.
  PipeliningServer server(4);
  OneConnection pool(server.url(), 4);
  pool.submit_numbered(1, 8);
  REQUIRE(pool.completions.wait_for(8));
  pool.check_echoed(8);
  CHECK(server.connections() == 1);
  CHECK(pool.client->stats().requests_sent == 8);
  CHECK(pool.client->stats().requests_pipelined >= 3);
}

TEST_CASE("without pipelining, a request waits for the answer before it", "[http][client][pipeline]") {
  PipeliningServer server(2);
  OneConnection pool(server.url(), 1, 300ms);
  pool.submit_numbered(1, 2);
  REQUIRE(pool.completions.wait_for(1));
  CHECK(pool.completions.at(0).outcome == Outcome::TimedOut);
  // The second request went out only on a new connection, once the first had given up.
  for (const auto& [connection, body] : server.received()) CHECK((connection == 1) == (body == "body-1"));
  CHECK(pool.client->stats().requests_pipelined == 0);
}

TEST_CASE("requests behind an answer that announces Connection: close go again on a fresh connection",
          "[http][client][pipeline]") {
  PipeliningServer server(3, 1, true);
  OneConnection pool(server.url(), 3);
  pool.submit_numbered(1, 3);
  REQUIRE(pool.completions.wait_for(3));
  pool.check_echoed(3);
  CHECK(pool.completions.at(0).token == 1);
  CHECK(server.connections() == 2);
  // The first connection got all three; the server handled only the first.
  const auto received = server.received();
  REQUIRE(received.size() == 5);
  CHECK(received[3] == std::pair<int, std::string>(2, "body-2"));
  CHECK(received[4] == std::pair<int, std::string>(2, "body-3"));
  CHECK(pool.client->stats().requests_resent == 2);
}

TEST_CASE("pipelined requests on a connection closed while idle go again once, in order", "[http][client][pipeline]") {
  // The first connection answers one request and closes unannounced, as on an idle timeout.
  PipeliningServer server(1, 1, false);
  OneConnection pool(server.url(), 4);
  pool.submit_numbered(1, 1);
  REQUIRE(pool.completions.wait_for(1));
  REQUIRE(test::wait_until([&] { return server.closed() == 1; }, 10s));
  pool.submit_numbered(2, 4);
  REQUIRE(pool.completions.wait_for(4));
  pool.check_echoed(4);
  CHECK(server.connections() == 2);
  std::vector<std::string> second;
  for (const auto& [connection, body] : server.received()) {
    if (connection == 2) second.push_back(body);
  }
  CHECK(second == std::vector<std::string>{"body-2", "body-3", "body-4"});
}

TEST_CASE("status, a 1 KiB excerpt of the body and Retry-After are reported", "[http][client]") {
  HttpTestServer server;
  std::string body;
  for (int i = 0; body.size() < 5000; ++i) body += std::to_string(i) + ",";
  server.set_handler([&](const ReceivedRequest&) { return answer(503, body, {{"Retry-After", "120"}}); });
  HttpRuntime runtime;
  Completions completions;
  auto client = make_client(runtime.io(), settings_for(server.url()), completions);
  const Response response = exchange(*client, completions, request(1));
  CHECK(response.outcome == Outcome::Status);
  CHECK(response.status == 503);
  CHECK(response.body_excerpt == body.substr(0, 1024));
  REQUIRE(response.retry_after == std::optional<std::string>("120"));
  CHECK(parse_retry_after(*response.retry_after, std::chrono::system_clock::now()) == 120s);
  // An error status is an answer like any other: the connection stays.
  CHECK(exchange(*client, completions, request(2)).status == 503);
  CHECK(server.connections_accepted() == 1);
}

TEST_CASE("a body above 1 MiB gives its status and closes the connection", "[http][client]") {
  HttpTestServer server;
  std::atomic<int> seen{0};
  server.set_handler([&](const ReceivedRequest&) {
    return ++seen == 1 ? answer(413, std::string(3 * 1024 * 1024, 'x')) : HttpTestResponse{};
  });
  HttpRuntime runtime;
  Completions completions;
  auto client = make_client(runtime.io(), settings_for(server.url()), completions);
  const Response big = exchange(*client, completions, request(1));
  CHECK(big.outcome == Outcome::Status);
  CHECK(big.status == 413);
  CHECK(big.body_excerpt == std::string(1024, 'x'));
  CHECK(exchange(*client, completions, request(2)).status == 200);
  CHECK(server.connections_accepted() == 2);
}

TEST_CASE("a response announcing Connection: close is not reused", "[http][client][pool]") {
  HttpTestServer server;
  server.set_handler([](const ReceivedRequest&) { return answer(200, "ok", {{"Connection", "close"}}); });
  HttpRuntime runtime;
  Completions completions;
  auto client = make_client(runtime.io(), settings_for(server.url()), completions);
  for (uint64_t token = 1; token <= 3; ++token) CHECK(exchange(*client, completions, request(token)).status == 200);
  CHECK(server.connections_accepted() == 3);
  CHECK(client->stats().requests_resent == 0);
}

TEST_CASE("HEAD responses are read without a body", "[http][client]") {
  HttpTestServer server;
  HttpRuntime runtime;
  Completions completions;
  ClientSettings settings = settings_for(server.url());
  settings.method = "HEAD";
  auto client = make_client(runtime.io(), settings, completions);
  const Response first = exchange(*client, completions, request(1, ""));
  CHECK(first.status == 200);
  CHECK(first.body_excerpt.empty());
  CHECK(exchange(*client, completions, request(2, "")).status == 200);
  CHECK(server.connections_accepted() == 1);
  CHECK(server.requests().at(0).method == "HEAD");
}

TEST_CASE("a request header with a line break is InvalidRequest and is not sent", "[http][client]") {
  HttpTestServer server;
  HttpRuntime runtime;
  Completions completions;
  auto client = make_client(runtime.io(), settings_for(server.url()), completions);
  Request bad = request(1);
  bad.headers = {{"Idempotency-Key", "abc\r\nX-Injected: yes"}};
  const Response rejected = exchange(*client, completions, bad);
  CHECK(rejected.outcome == Outcome::InvalidRequest);
  CHECK_THAT(rejected.error, Catch::Contains("Idempotency-Key"));
  CHECK(exchange(*client, completions, request(2)).status == 200);
  CHECK(server.request_count() == 1);
  CHECK(server.requests().at(0).headers.count("x-injected") == 0);
}

TEST_CASE("create refuses settings it cannot honour", "[http][client]") {
  boost::asio::io_context io;
  Completions completions;
  auto create_error = [&](const ClientSettings& settings) {
    std::string error;
    REQUIRE(HttpClient::create(io, settings, completions.handler(), error) == nullptr);
    return error;
  };
  ClientSettings settings = settings_for("http://127.0.0.1:1/");
  settings.url = "ftp://x/";
  CHECK_THAT(create_error(settings), Catch::Contains("scheme"));
  settings.url = "https://127.0.0.1:1/";
  settings.ca_file = "/nonexistent/ca.pem";
  CHECK_THAT(create_error(settings), Catch::Contains("/nonexistent/ca.pem"));
  settings.ca_file = "";
  settings.method = "GET /x";
  CHECK_THAT(create_error(settings), Catch::Contains("method"));
  settings.method = "POST";
  settings.max_connections = 0;
  CHECK_THAT(create_error(settings), Catch::Contains("max_connections"));
  settings.max_connections = 4;
  settings.timeout = 0ms;
  CHECK_THAT(create_error(settings), Catch::Contains("timeout"));
  settings.timeout = 1s;
  settings.headers = {{"X-Token", "line\nbreak"}};
  CHECK_THAT(create_error(settings), Catch::Contains("X-Token"));
}

TEST_CASE("outcome names", "[http][client]") {
  CHECK(outcome_name(Outcome::Status) == "status");
  CHECK(outcome_name(Outcome::TimedOut) == "timed_out");
  CHECK(outcome_name(Outcome::ConnectFailed) == "connect_failed");
  CHECK(outcome_name(Outcome::ConnectionLost) == "connection_lost");
  CHECK(outcome_name(Outcome::TlsFailed) == "tls_failed");
  CHECK(outcome_name(Outcome::Cancelled) == "cancelled");
  CHECK(outcome_name(Outcome::InvalidRequest) == "invalid_request");
}

}  // namespace
}  // namespace sluice::http
