// FetchWaker: a request runs a round on the waker's thread, requests made while a round runs
// coalesce into one more, rounds keep their minimum distance, and the destructor stops the
// thread.

#include <catch2/catch.hpp>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "kafka/fetch_waker.h"
#include "support/wait.h"

using namespace sluice;
using namespace std::chrono_literals;

TEST_CASE("fetch waker: each request runs a round on the waker's thread", "[kafka][fetch]") {
  std::atomic<int> rounds{0};
  std::atomic<bool> other_thread{true};
  const auto test_thread = std::this_thread::get_id();
  kafka::FetchWaker waker(
      [&](std::chrono::milliseconds timeout) {
        if (std::this_thread::get_id() == test_thread || timeout != 250ms) other_thread = false;
        rounds += 1;
      },
      250ms, 0ms);
  CHECK(waker.rounds() == 0);
  waker.request();
  REQUIRE(test::wait_until([&] { return waker.rounds() == 1; }, 5s));
  waker.request();
  REQUIRE(test::wait_until([&] { return waker.rounds() == 2; }, 5s));
  CHECK(rounds == 2);
  CHECK(other_thread);
}

TEST_CASE("fetch waker: requests made while a round runs ask for exactly one more round", "[kafka][fetch]") {
  std::mutex mutex;
  std::condition_variable changed;
  bool first_started = false;
  bool release = false;
  int started = 0;
  kafka::FetchWaker waker(
      [&](std::chrono::milliseconds) {
        std::unique_lock<std::mutex> lock(mutex);
        started += 1;
        first_started = true;
        changed.notify_all();
        changed.wait(lock, [&] { return release; });
      },
      1000ms, 0ms);
  waker.request();
  {
    std::unique_lock<std::mutex> lock(mutex);
    REQUIRE(changed.wait_for(lock, 5s, [&] { return first_started; }));
  }
  for (int i = 0; i < 100; ++i) waker.request();  // the round is still running
  {
    std::lock_guard<std::mutex> lock(mutex);
    release = true;
  }
  changed.notify_all();
  REQUIRE(test::wait_until([&] { return waker.rounds() == 2; }, 5s));
  // One more request, one more round: the hundred made none of their own.
  waker.request();
  REQUIRE(test::wait_until([&] { return waker.rounds() == 3; }, 5s));
  std::lock_guard<std::mutex> lock(mutex);
  CHECK(started == 3);
}

TEST_CASE("fetch waker: rounds start at least the minimum interval apart", "[kafka][fetch]") {
  std::mutex mutex;
  std::vector<std::chrono::steady_clock::time_point> starts;
  kafka::FetchWaker waker(
      [&](std::chrono::milliseconds) {
        std::lock_guard<std::mutex> lock(mutex);
        starts.push_back(std::chrono::steady_clock::now());
      },
      1000ms, 150ms);
  waker.request();
  REQUIRE(test::wait_until([&] { return waker.rounds() == 1; }, 5s));
  waker.request();  // at once: its round waits for the interval
  REQUIRE(test::wait_until([&] { return waker.rounds() == 2; }, 5s));
  std::lock_guard<std::mutex> lock(mutex);
  REQUIRE(starts.size() == 2);
  CHECK(starts[1] - starts[0] >= 150ms);
}
