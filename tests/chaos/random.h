#pragma once
// The chaos runs' randomness: one seeded generator for every choice of a run, so a seed
// replays the same plan.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace sluice::chaos {

class Random {
 public:
  explicit Random(uint64_t seed) : engine_(seed) {}

  std::chrono::milliseconds between(std::chrono::milliseconds low, std::chrono::milliseconds high) {
    return std::chrono::milliseconds(std::uniform_int_distribution<int64_t>(low.count(), high.count())(engine_));
  }
  int between(int low, int high) { return std::uniform_int_distribution<int>(low, high)(engine_); }
  size_t pick(const std::vector<int>& weights) {
    return std::discrete_distribution<size_t>(weights.begin(), weights.end())(engine_);
  }

 private:
  std::mt19937_64 engine_;
};

}  // namespace sluice::chaos
