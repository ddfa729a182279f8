#include "engine/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace sluice::engine {

RateLimiter::RateLimiter(double records_per_second, double burst)
    : interval_(std::max<int64_t>(1, std::llround(1e9 / records_per_second))),
      tolerance_(interval_ * static_cast<int64_t>(std::max(burst, 1.0) - 1)),
      burst_(std::max(burst, 1.0)) {}

void RateLimiter::take(TimePoint now) {
  // A bucket idle long enough is full: its debt starts again from now.
  due_ = std::max(due_, now) + interval_;
}

}  // namespace sluice::engine
