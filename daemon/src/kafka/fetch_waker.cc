#include "kafka/fetch_waker.h"

#include "common/log.h"
#include "kafka/client.h"
#include "kafka/handles.h"

namespace sluice::kafka {

void wake_fetchers_of(rd_kafka_t* handle, std::chrono::milliseconds timeout) {
  rd_kafka_topic_partition_list_t* assigned = nullptr;
  if (rd_kafka_assignment(handle, &assigned) != RD_KAFKA_RESP_ERR_NO_ERROR || assigned == nullptr) return;
  PartitionListPtr list(assigned);
  if (list->cnt == 0) return;
  // offsets_for_times takes a timestamp in .offset; -1 asks for the end of each partition.
  for (int i = 0; i < list->cnt; ++i) list->elems[i].offset = RD_KAFKA_OFFSET_END;
  rd_kafka_resp_err_t error = rd_kafka_offsets_for_times(handle, list.get(), static_cast<int>(timeout.count()));
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) log::debug("waking the fetchers failed", {{"error", error_name(error)}});
}

FetchWaker::FetchWaker(Round round, std::chrono::milliseconds timeout, std::chrono::milliseconds min_interval)
    : round_(std::move(round)), timeout_(timeout), min_interval_(min_interval), thread_([this] { loop(); }) {}

FetchWaker::~FetchWaker() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void FetchWaker::request() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (requested_) return;
    requested_ = true;
  }
  wake_.notify_one();
}

uint64_t FetchWaker::rounds() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return rounds_;
}

void FetchWaker::loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  auto next_start = std::chrono::steady_clock::now();
  while (true) {
    wake_.wait(lock, [this] { return stopping_ || requested_; });
    // Requests made meanwhile join this round.
    wake_.wait_until(lock, next_start, [this] { return stopping_; });
    if (stopping_) return;
    next_start = std::chrono::steady_clock::now() + min_interval_;
    // Taken before the round: a request made while it runs asks for one more after it, since
    // the queue may have been drained again after this round's requests reached the brokers.
    requested_ = false;
    lock.unlock();
    round_(timeout_);
    lock.lock();
    ++rounds_;
  }
}

}  // namespace sluice::kafka
