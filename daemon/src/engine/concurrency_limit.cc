#include "engine/concurrency_limit.h"

#include <algorithm>

namespace sluice::engine {

ConcurrencyLimit ConcurrencyLimit::adaptive(int max) {
  max = std::max(max, 1);
  return ConcurrencyLimit(true, max, max);
}

ConcurrencyLimit ConcurrencyLimit::fixed(int cap, int max) {
  max = std::max(max, 1);
  return ConcurrencyLimit(false, std::clamp(cap, 1, max), max);
}

void ConcurrencyLimit::on_success() {
  if (!adaptive_ || limit_ >= max_) return;
  if (limit_ < threshold_) {
    limit_ += 1;
    return;
  }
  successes_ += 1;
  if (successes_ >= limit_) {
    successes_ = 0;
    limit_ += 1;
  }
}

void ConcurrencyLimit::on_overload(TimePoint sent_at, TimePoint now) {
  if (!adaptive_ || sent_at < last_cut_) return;
  limit_ = std::max(limit_ / 2, 1);
  threshold_ = limit_;
  successes_ = 0;
  // A request sent at this very instant was sent before the cut was known: it cannot cut again.
  last_cut_ = now + std::chrono::nanoseconds(1);
}

void ConcurrencyLimit::restart() {
  if (!adaptive_) return;
  limit_ = 1;
  threshold_ = max_;
  successes_ = 0;
}

}  // namespace sluice::engine
