#include "engine/watermark_poller.h"

#include <algorithm>

namespace sluice::engine {

WatermarkPoller::WatermarkPoller(kafka::ConsumerApi& consumer, std::chrono::milliseconds interval)
    : consumer_(consumer), interval_(interval), thread_([this] { loop(); }) {}

void WatermarkPoller::watch(std::vector<kafka::TopicPartition> partitions) {
  std::sort(partitions.begin(), partitions.end());
  std::lock_guard<std::mutex> lock(mutex_);
  if (partitions == watched_) return;
  const bool added = std::any_of(partitions.begin(), partitions.end(), [&](const kafka::TopicPartition& partition) {
    return !std::binary_search(watched_.begin(), watched_.end(), partition);
  });
  watched_ = std::move(partitions);
  for (auto it = answers_.begin(); it != answers_.end();) {
    it = std::binary_search(watched_.begin(), watched_.end(), it->first) ? std::next(it) : answers_.erase(it);
  }
  if (added) {
    // A partition just paused: ask about it now. The flag keeps the request when the thread
    // is busy with a round rather than waiting.
    added_ = true;
    wake_.notify_one();
  }
}

std::optional<kafka::Watermarks> WatermarkPoller::watermarks(const kafka::TopicPartition& partition) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = answers_.find(partition);
  if (it == answers_.end()) return std::nullopt;
  return it->second;
}

void WatermarkPoller::set_ping(std::optional<kafka::TopicPartition> partition) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (partition == ping_) return;
  ping_ = std::move(partition);
  if (ping_) {
    added_ = true;
    wake_.notify_one();
  }
}

uint64_t WatermarkPoller::answers() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return answer_count_;
}

void WatermarkPoller::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void WatermarkPoller::loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    std::vector<kafka::TopicPartition> partitions = watched_;
    if (ping_) partitions.push_back(*ping_);
    added_ = false;
    lock.unlock();
    std::vector<std::pair<kafka::TopicPartition, kafka::Watermarks>> answered;
    for (const kafka::TopicPartition& partition : partitions) {
      if (auto marks = consumer_.query_watermarks(partition, interval_)) answered.emplace_back(partition, *marks);
    }
    lock.lock();
    answer_count_ += answered.size();
    for (const auto& [partition, marks] : answered) {
      if (std::binary_search(watched_.begin(), watched_.end(), partition)) answers_[partition] = marks;
    }
    if (stopping_) break;
    wake_.wait_for(lock, interval_, [this] { return stopping_ || added_; });
  }
}

}  // namespace sluice::engine
