// Requests per second through one client with 16 connections to the in-process test server.
// Hidden ([.bench]); run with `unit_http "[.bench]"` on an otherwise idle machine. The server
// shares the machine (and here its cores) with the client, so the figure is a lower bound for
// the client alone; the CPU time of the client's io thread is printed as well.

#include <pthread.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <future>

#include <boost/asio/post.hpp>
#include <catch2/catch.hpp>

#include "http/http_client.h"
#include "support/http_test_server.h"
#include "unit/http/http_test_helpers.h"

namespace sluice::http {
namespace {

using namespace std::chrono_literals;
using testing::settings_for;

double io_thread_cpu_seconds(boost::asio::io_context& io) {
  std::promise<double> seconds;
  boost::asio::post(io, [&] {
    timespec now{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    seconds.set_value(static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9);
  });
  return seconds.get_future().get();
}

// Counts completions without waking anyone until the last one: the handler's own cost is
// part of the io thread's, so it does what the engine's does (count and, rarely, notify).
class Counter {
 public:
  CompletionHandler handler() {
    return [this](Response response) {
      if (response.outcome != Response::Outcome::Status || response.status != 200) failures_.fetch_add(1);
      if (done_.fetch_add(1) + 1 == target_.load()) reached_.set_value();
    };
  }
  // Arms the counter for `count` more completions; returns a future that is ready then.
  std::future<void> expect(uint64_t count) {
    reached_ = std::promise<void>();
    target_ = done_.load() + count;
    return reached_.get_future();
  }
  uint64_t failures() const { return failures_.load(); }

 private:
  std::atomic<uint64_t> done_{0};
  std::atomic<uint64_t> target_{0};
  std::atomic<uint64_t> failures_{0};
  std::promise<void> reached_;
};

TEST_CASE("client throughput with 16 connections", "[http][.bench]") {
  constexpr uint64_t kRequests = 200'000;
  test::HttpTestServer server;
  HttpRuntime runtime;
  Counter counter;
  ClientSettings settings = settings_for(server.url());
  settings.max_connections = 16;
  std::string error;
  auto client = HttpClient::create(runtime.io(), settings, counter.handler(), error);
  REQUIRE(client);
  const std::string body(300, 'm');  // about the size of a routed message

  // Warm up: open the connections.
  std::future<void> warm = counter.expect(1000);
  for (uint64_t token = 0; token < 1000; ++token) client->submit(Request{token, body, {}});
  REQUIRE(warm.wait_for(60s) == std::future_status::ready);

  std::future<void> measured = counter.expect(kRequests);
  const double cpu_start = io_thread_cpu_seconds(runtime.io());
  const auto start = std::chrono::steady_clock::now();
  for (uint64_t token = 0; token < kRequests; ++token) client->submit(Request{token, body, {}});
  REQUIRE(measured.wait_for(300s) == std::future_status::ready);
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  const double cpu = io_thread_cpu_seconds(runtime.io()) - cpu_start;

  CHECK(counter.failures() == 0);
  CHECK(client->stats().connections_opened == 16);
  std::printf("%-50s %9.0f req/s %9.0f req/io-thread-cpu-s\n", "http client, 16 connections, 300 B bodies",
              static_cast<double>(kRequests) / elapsed.count(), static_cast<double>(kRequests) / cpu);
  std::fflush(stdout);
}

}  // namespace
}  // namespace sluice::http
