#include "engine/stage_thread.h"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace {

using sluice::engine::InFlightRecord;
using sluice::engine::StageThread;
using sluice::stages::StageResources;

// The engine's wake pipe: non-blocking at both ends, as the engine creates it.
class WakePipe {
 public:
  WakePipe() { REQUIRE(pipe2(fds_, O_CLOEXEC | O_NONBLOCK) == 0); }
  ~WakePipe() {
    close(fds_[0]);
    close(fds_[1]);
  }
  int write_end() const { return fds_[1]; }
  // Waits up to 10 s for a byte; drains the pipe. False on timeout.
  bool wait() {
    pollfd descriptor{fds_[0], POLLIN, 0};
    if (::poll(&descriptor, 1, 10'000) != 1) return false;
    char buffer[64];
    while (read(fds_[0], buffer, sizeof buffer) > 0) {
    }
    return true;
  }

 private:
  int fds_[2] = {-1, -1};
};

// Takes records back until `count` have returned, sleeping in poll() on the pipe between
// takes as the engine does; a missing wake-up shows as a timeout.
std::vector<InFlightRecord*> take_back(StageThread& thread, WakePipe& pipe, size_t count) {
  std::vector<InFlightRecord*> taken;
  while (taken.size() < count) {
    if (!thread.has_finished()) REQUIRE(pipe.wait());
    thread.take_finished(taken);
  }
  REQUIRE(taken.size() == count);
  return taken;
}

}  // namespace

TEST_CASE("stage thread: records come back in submission order, each decided once on the stage thread") {
  WakePipe pipe;
  const std::thread::id engine_thread = std::this_thread::get_id();
  int decided = 0;  // touched by the stage thread only
  bool ran_elsewhere = true;
  StageThread thread(
      [&](InFlightRecord& record) {
        ran_elsewhere = ran_elsewhere && std::this_thread::get_id() != engine_thread;
        record.route = decided++;
      },
      [](std::shared_ptr<const StageResources>) {}, pipe.write_end());

  // Batch sizes around the thread's publishing slice (64), submitted back to back so that
  // some arrive while the thread is busy with the previous ones.
  std::deque<InFlightRecord> records;
  std::vector<InFlightRecord*> submitted;
  for (size_t size : {1, 63, 64, 65, 200, 1000, 7}) {
    std::vector<InFlightRecord*> batch;
    for (size_t i = 0; i < size; ++i) batch.push_back(&records.emplace_back());
    submitted.insert(submitted.end(), batch.begin(), batch.end());
    thread.submit(batch);
    REQUIRE(batch.empty());
  }
  std::vector<InFlightRecord*> taken = take_back(thread, pipe, submitted.size());
  CHECK(taken == submitted);
  for (size_t i = 0; i < taken.size(); ++i) REQUIRE(taken[i]->route == static_cast<int>(i));
  CHECK_FALSE(thread.has_finished());
  // Read after take_back: the records' return is what orders these writes before this read.
  CHECK(ran_elsewhere);
}

TEST_CASE("stage thread: new resources apply to the records submitted after them") {
  WakePipe pipe;
  std::shared_ptr<const StageResources> current;  // stage thread only
  StageThread thread(
      [&](InFlightRecord& record) { record.retry_count = current ? 1 : 0; },
      [&](std::shared_ptr<const StageResources> resources) { current = std::move(resources); }, pipe.write_end());

  std::deque<InFlightRecord> records;
  std::vector<InFlightRecord*> before{&records.emplace_back(), &records.emplace_back()};
  thread.submit(before);
  for (InFlightRecord* record : take_back(thread, pipe, 2)) CHECK(record->retry_count == 0);

  thread.set_resources(std::make_shared<const StageResources>());
  std::vector<InFlightRecord*> after{&records.emplace_back(), &records.emplace_back()};
  thread.submit(after);
  for (InFlightRecord* record : take_back(thread, pipe, 2)) CHECK(record->retry_count == 1);
}

TEST_CASE("stage thread: the destructor joins while records are still queued") {
  WakePipe pipe;
  std::deque<InFlightRecord> records;
  {
    StageThread thread([](InFlightRecord& record) { record.route = 1; }, [](std::shared_ptr<const StageResources>) {},
                       pipe.write_end());
    std::vector<InFlightRecord*> batch;
    for (int i = 0; i < 500; ++i) batch.push_back(&records.emplace_back());
    thread.submit(batch);
  }  // joined here; the records stay owned by the caller, whether or not they were decided
  for (const InFlightRecord& record : records) CHECK((record.route == 1 || record.route == -1));
}

TEST_CASE("stage thread: records run on the calling thread only while the stage thread is idle and all is taken back") {
  WakePipe pipe;
  std::mutex gate_mutex;
  std::condition_variable gate_changed;
  bool gate_open = false;
  bool stage_thread_waiting = false;
  std::map<const InFlightRecord*, std::thread::id> ran_on;  // under gate_mutex
  auto thread_of = [&](const InFlightRecord* record) {
    std::lock_guard<std::mutex> lock(gate_mutex);
    auto found = ran_on.find(record);
    return found == ran_on.end() ? std::thread::id() : found->second;
  };
  StageThread thread(
      [&](InFlightRecord& record) {
        {
          std::lock_guard<std::mutex> lock(gate_mutex);
          ran_on[&record] = std::this_thread::get_id();
        }
        if (record.route != 1) return;
        // The record marked 1 holds the stage thread until the test opens the gate.
        std::unique_lock<std::mutex> lock(gate_mutex);
        stage_thread_waiting = true;
        gate_changed.notify_all();
        gate_changed.wait(lock, [&] { return gate_open; });
      },
      [](std::shared_ptr<const StageResources>) {}, pipe.write_end());
  std::deque<InFlightRecord> records;
  const std::thread::id here = std::this_thread::get_id();

  std::vector<InFlightRecord*> first{&records.emplace_back()};
  REQUIRE(thread.run_here_if_idle(first));
  CHECK(thread_of(first[0]) == here);

  std::vector<InFlightRecord*> held{&records.emplace_back()};
  held[0]->route = 1;
  thread.submit(held);
  {
    std::unique_lock<std::mutex> lock(gate_mutex);
    REQUIRE(gate_changed.wait_for(lock, std::chrono::seconds(10), [&] { return stage_thread_waiting; }));
  }
  std::vector<InFlightRecord*> small{&records.emplace_back()};
  CHECK_FALSE(thread.run_here_if_idle(small));  // busy
  CHECK(thread_of(small[0]) == std::thread::id());
  {
    std::lock_guard<std::mutex> lock(gate_mutex);
    gate_open = true;
  }
  gate_changed.notify_all();
  while (!thread.has_finished()) REQUIRE(pipe.wait());
  CHECK_FALSE(thread.run_here_if_idle(small));  // its earlier record is not taken back yet
  std::vector<InFlightRecord*> taken;
  thread.take_finished(taken);
  REQUIRE(taken.size() == 1);
  CHECK(thread_of(taken[0]) != here);
  REQUIRE(thread.run_here_if_idle(small));
  CHECK(thread_of(small[0]) == here);
}
