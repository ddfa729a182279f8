#include "engine/stage_thread.h"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

namespace sluice::engine {

namespace {
// Decided records are handed back in slices of this many, so the engine can start on the
// first ones (dedup, forward) while the rest of a large batch is still being parsed.
constexpr size_t kPublishEvery = 64;
}  // namespace

StageThread::StageThread(RunFn run, ResourcesFn apply_resources, int wake_fd)
    : run_(std::move(run)), apply_resources_(std::move(apply_resources)), wake_fd_(wake_fd), thread_([this] {
        pthread_setname_np(pthread_self(), "sluice-stages");
        loop();
      }) {}

StageThread::~StageThread() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  work_ready_.notify_one();
  thread_.join();
}

void StageThread::submit(std::vector<InFlightRecord*>& records) {
  if (records.empty()) return;
  bool was_idle;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    was_idle = queued_.empty();
    if (was_idle) {
      queued_.swap(records);
    } else {
      queued_.insert(queued_.end(), records.begin(), records.end());
    }
  }
  records.clear();
  if (was_idle) work_ready_.notify_one();
}

bool StageThread::run_here_if_idle(const std::vector<InFlightRecord*>& records) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (running_ || !queued_.empty() || !finished_.empty() || new_resources_ != nullptr) return false;
    running_ = true;
  }
  // Only the engine thread gives the stage thread work, and it is here: nothing can start it
  // until this returns.
  for (InFlightRecord* record : records) run_(*record);
  std::lock_guard<std::mutex> lock(mutex_);
  running_ = false;
  return true;
}

void StageThread::take_finished(std::vector<InFlightRecord*>& out) {
  std::lock_guard<std::mutex> lock(mutex_);
  out.insert(out.end(), finished_.begin(), finished_.end());
  finished_.clear();
  has_finished_.store(false, std::memory_order_release);
}

void StageThread::set_resources(std::shared_ptr<const stages::StageResources> resources) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    new_resources_ = std::move(resources);
  }
  work_ready_.notify_one();
}

// The records of a batch were last written by the engine thread and their messages by
// librdkafka's, on other cores: the stages' first look at a record's message (for its value)
// was 3 % of the process's time, waiting for memory. They are loaded in steps before their
// turn: the record four ahead, its message two ahead (the record is in by then), the start
// of its value one ahead. Records of the batch not yet published are this thread's alone, so
// reading them here is safe.
void StageThread::prefetch_ahead(const std::vector<InFlightRecord*>& batch, size_t i) {
  if (i + 4 < batch.size()) __builtin_prefetch(batch[i + 4]);
  if (i + 2 < batch.size()) __builtin_prefetch(batch[i + 2]->message.address());
  if (i + 1 < batch.size() && batch[i + 1]->message) __builtin_prefetch(batch[i + 1]->message.value().data());
}

void StageThread::loop() {
  std::vector<InFlightRecord*> batch;
  while (true) {
    std::shared_ptr<const stages::StageResources> resources;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      work_ready_.wait(lock, [&] { return stopping_ || !queued_.empty() || new_resources_ != nullptr; });
      if (stopping_) return;
      batch.swap(queued_);
      running_ = true;
      resources = std::move(new_resources_);
      new_resources_ = nullptr;
    }
    if (resources) apply_resources_(std::move(resources));
    if (batch.empty()) {  // resources only
      std::lock_guard<std::mutex> lock(mutex_);
      running_ = false;
    }
    for (size_t start = 0; start < batch.size(); start += kPublishEvery) {
      const size_t end = std::min(batch.size(), start + kPublishEvery);
      for (size_t i = start; i < end; ++i) {
        prefetch_ahead(batch, i);
        run_(*batch[i]);
      }
      bool engine_was_told;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        engine_was_told = !finished_.empty();
        finished_.insert(finished_.end(), batch.begin() + static_cast<std::ptrdiff_t>(start),
                         batch.begin() + static_cast<std::ptrdiff_t>(end));
        if (end == batch.size()) running_ = false;
        has_finished_.store(true, std::memory_order_release);
      }
      // One byte per wake-up is enough: the engine takes everything finished when it looks.
      if (!engine_was_told) {
        const char byte = 't';
        (void)!write(wake_fd_, &byte, 1);
      }
    }
    batch.clear();
  }
}

}  // namespace sluice::engine
