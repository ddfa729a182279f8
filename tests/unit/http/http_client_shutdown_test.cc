// HttpClient stopping: shutdown and destruction with requests queued and in flight, and from
// inside a completion handler.

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
using test::HttpTestServer;
using test::ReceivedRequest;
using testing::Completions;
using testing::delayed;
using testing::drain;
using testing::dropped;
using testing::make_client;
using testing::request;
using testing::settings_for;
using Outcome = Response::Outcome;

TEST_CASE("shutdown cancels queued and in-flight requests, and nothing completes after it", "[http][client][shutdown]") {
  HttpTestServer server;
  server.set_handler([](const ReceivedRequest&) { return delayed(60s); });
  HttpRuntime runtime;
  Completions completions;
  ClientSettings settings = settings_for(server.url());
  settings.max_connections = 1;
  auto client = make_client(runtime.io(), settings, completions);
  for (uint64_t token = 1; token <= 5; ++token) client->submit(request(token));
  REQUIRE(test::wait_until([&] { return server.request_count() == 1; }, 10s));

  client->shutdown();
  const std::vector<Response> responses = completions.all();
  REQUIRE(responses.size() == 5);
  std::set<uint64_t> tokens;
  for (const Response& response : responses) {
    CHECK(response.outcome == Outcome::Cancelled);
    tokens.insert(response.token);
  }
  CHECK(tokens.size() == 5);

  client->submit(request(6));
  client->shutdown();
  drain(runtime.io());
  CHECK(completions.size() == 5);
}

TEST_CASE("shutdown may be called from the completion handler", "[http][client][shutdown]") {
  HttpTestServer server;
  HttpRuntime runtime;
  Completions completions;
  std::atomic<HttpClient*> self{nullptr};
  CompletionHandler collect = completions.handler();
  ClientSettings settings = settings_for(server.url());
  settings.max_connections = 1;
  std::string error;
  auto client = HttpClient::create(
      runtime.io(), settings,
      [&](Response response) {
        const bool first = response.outcome == Outcome::Status;
        collect(std::move(response));
        if (first) self.load()->shutdown();
      },
      error);
  REQUIRE(client);
  self = client.get();
  // One batch, so all three are queued before the first can be answered: submitted one by
  // one, a slow test thread could see the first response (and the shutdown) before it
  // submits the third, which is then dropped without a completion.
  std::vector<Request> batch;
  for (uint64_t token = 1; token <= 3; ++token) batch.push_back(request(token));
  client->submit(batch);
  REQUIRE(completions.wait_for(3));
  drain(runtime.io());
  const std::vector<Response> responses = completions.all();
  REQUIRE(responses.size() == 3);
  CHECK(responses[0].outcome == Outcome::Status);
  CHECK(responses[1].outcome == Outcome::Cancelled);
  CHECK(responses[2].outcome == Outcome::Cancelled);
}

// The engine thread submits while the io thread runs handlers (which write and read under
// the pool's lock); submit() must not wait for them. Here a completion handler holds the io
// thread until another thread's submit() has returned: were submit() to take the pool's lock,
// it would wait out the handler's 10 s and the handler would see no submission.
TEST_CASE("submit does not wait for a completion handler that is running", "[http][client][pool]") {
  HttpTestServer server;
  HttpRuntime runtime;
  Completions completions;
  CompletionHandler collect = completions.handler();
  std::atomic<bool> handler_running{false};
  std::atomic<bool> submitted{false};
  std::atomic<bool> handler_saw_submission{false};
  std::string error;
  auto client = HttpClient::create(
      runtime.io(), settings_for(server.url()),
      [&](Response response) {
        if (response.token == 1) {
          handler_running = true;
          handler_saw_submission = test::wait_until([&] { return submitted.load(); }, 10s);
        }
        collect(std::move(response));
      },
      error);
  REQUIRE(client);
  client->submit(request(1));
  REQUIRE(test::wait_until([&] { return handler_running.load(); }, 10s));
  std::thread other([&] {
    client->submit(request(2));
    submitted = true;
  });
  other.join();
  REQUIRE(completions.wait_for(2, 30s));  // the first one's after its handler's verdict
  CHECK(handler_saw_submission);
  for (const Response& response : completions.all()) CHECK(response.outcome == Outcome::Status);
}

TEST_CASE("shutdown works after the runtime has stopped", "[http][client][shutdown]") {
  HttpTestServer server;
  HttpRuntime runtime;
  Completions completions;
  auto client = make_client(runtime.io(), settings_for(server.url()), completions);
  runtime.stop();
  runtime.stop();  // idempotent
  for (uint64_t token = 1; token <= 3; ++token) client->submit(request(token));
  client->shutdown();
  REQUIRE(completions.size() == 3);
  for (const Response& response : completions.all()) CHECK(response.outcome == Outcome::Cancelled);
  CHECK(server.request_count() == 0);
}

TEST_CASE("destroying a client cancels what it still holds", "[http][client][shutdown]") {
  HttpTestServer server;
  server.set_handler([](const ReceivedRequest&) { return delayed(60s); });
  HttpRuntime runtime;
  Completions completions;
  auto client = make_client(runtime.io(), settings_for(server.url()), completions);
  client->submit(request(1));
  REQUIRE(test::wait_until([&] { return server.request_count() == 1; }, 10s));
  client.reset();
  REQUIRE(completions.size() == 1);
  CHECK(completions.at(0).outcome == Outcome::Cancelled);
}

}  // namespace
}  // namespace sluice::http
