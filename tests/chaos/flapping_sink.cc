#include "chaos/flapping_sink.h"

namespace sluice::chaos {

const char* sink_mode_name(SinkMode mode) {
  switch (mode) {
    case SinkMode::Ok: return "ok";
    case SinkMode::Unavailable: return "503";
    case SinkMode::Hang: return "hang";
    case SinkMode::Refused: return "refused";
  }
  return "?";
}

FlappingSink::FlappingSink(std::chrono::milliseconds hang_delay) : hang_delay_(hang_delay) {
  server_.set_handler([this](const test::ReceivedRequest& request) { return answer(request); });
}

void FlappingSink::set_mode(SinkMode mode) {
  SinkMode previous = mode_.exchange(mode);
  if (previous == mode) return;
  if (mode == SinkMode::Refused) server_.stop();
  if (previous == SinkMode::Refused) server_.start();
}

std::vector<HttpDelivery> FlappingSink::deliveries() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return deliveries_;
}

test::HttpTestResponse FlappingSink::answer(const test::ReceivedRequest& request) {
  test::HttpTestResponse response;
  switch (mode_.load()) {
    case SinkMode::Ok: {
      auto key = request.headers.find("idempotency-key");
      std::lock_guard<std::mutex> lock(mutex_);
      deliveries_.push_back({request.body, key == request.headers.end() ? "" : key->second});
      return response;
    }
    case SinkMode::Hang:
      // Answered after the client gave up: sluice sees a timeout, never this answer.
      response.delay = hang_delay_;
      response.status = 503;
      response.body = "late";
      return response;
    case SinkMode::Unavailable:
    case SinkMode::Refused:  // a request that raced the stop
      response.status = 503;
      response.body = "unavailable";
      return response;
  }
  return response;
}

}  // namespace sluice::chaos
