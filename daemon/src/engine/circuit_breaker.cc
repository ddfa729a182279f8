#include "engine/circuit_breaker.h"

#include <algorithm>

namespace sluice::engine {

std::string_view breaker_state_name(BreakerState state) {
  switch (state) {
    case BreakerState::Closed: return "closed";
    case BreakerState::Open: return "open";
    case BreakerState::HalfOpen: return "half_open";
  }
  return "unknown";
}

CircuitBreaker::CircuitBreaker(BreakerSettings settings, TransitionListener on_transition)
    : settings_(settings), on_transition_(std::move(on_transition)) {}

BreakerState CircuitBreaker::state(Clock::time_point now) {
  if (state_ == BreakerState::Open && now >= open_until_) transition(BreakerState::HalfOpen, now);
  return state_;
}

int CircuitBreaker::probe_slots() const {
  return state_ == BreakerState::HalfOpen ? std::max(0, settings_.half_open_max_calls - probes_in_flight_) : 0;
}

CircuitBreaker::Permit CircuitBreaker::try_acquire(Clock::time_point now) {
  switch (state(now)) {
    case BreakerState::Closed:
      return {true, false, generation_};
    case BreakerState::Open:
      return {};
    case BreakerState::HalfOpen:
      if (probes_in_flight_ >= settings_.half_open_max_calls) return {};
      probes_in_flight_ += 1;
      return {true, true, generation_};
  }
  return {};
}

void CircuitBreaker::record_result(bool failure) {
  if (settings_.failure_rate_threshold <= 0) return;
  window_.push_back(failure);
  window_failures_ += failure ? 1 : 0;
  while (static_cast<int>(window_.size()) > settings_.sliding_window_size) {
    window_failures_ -= window_.front() ? 1 : 0;
    window_.pop_front();
  }
}

void CircuitBreaker::on_success(const Permit& permit, Clock::time_point now) {
  if (!permit.granted || permit.generation != generation_) return;
  if (state_ == BreakerState::Closed) {
    consecutive_failures_ = 0;
    record_result(false);
    return;
  }
  if (state_ == BreakerState::HalfOpen && permit.probe) {
    probes_in_flight_ -= 1;
    probe_successes_ += 1;
    if (probe_successes_ >= settings_.success_threshold) transition(BreakerState::Closed, now);
  }
}

void CircuitBreaker::on_failure(const Permit& permit, Clock::time_point now,
                                std::optional<std::chrono::milliseconds> min_open) {
  if (!permit.granted || permit.generation != generation_) {
    // A late failure still honours a Retry-After on an already open breaker.
    if (state_ == BreakerState::Open && min_open) open_until_ = std::max(open_until_, now + *min_open);
    return;
  }
  if (state_ == BreakerState::Closed) {
    consecutive_failures_ += 1;
    record_result(true);
    bool by_count = consecutive_failures_ >= settings_.failure_threshold;
    bool by_rate = settings_.failure_rate_threshold > 0 && static_cast<int>(window_.size()) >= settings_.minimum_calls &&
                   100.0 * window_failures_ / static_cast<double>(window_.size()) >= settings_.failure_rate_threshold;
    if (by_count || by_rate) transition(BreakerState::Open, now, min_open);
    return;
  }
  if (state_ == BreakerState::HalfOpen && permit.probe) {
    probes_in_flight_ -= 1;
    transition(BreakerState::Open, now, min_open);
  }
}

void CircuitBreaker::cancel(const Permit& permit) {
  if (permit.granted && permit.probe && permit.generation == generation_ && state_ == BreakerState::HalfOpen) {
    probes_in_flight_ -= 1;
  }
}

void CircuitBreaker::transition(BreakerState to, Clock::time_point now, std::optional<std::chrono::milliseconds> min_open) {
  BreakerState from = state_;
  state_ = to;
  generation_ += 1;
  consecutive_failures_ = 0;
  probes_in_flight_ = 0;
  probe_successes_ = 0;
  window_.clear();
  window_failures_ = 0;
  if (to == BreakerState::Open) {
    open_until_ = now + std::max(settings_.open_timeout, min_open.value_or(std::chrono::milliseconds(0)));
  }
  if (on_transition_) on_transition_(from, to);
}

}  // namespace sluice::engine
