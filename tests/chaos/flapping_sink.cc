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
  if (mode == SinkMode::Refused) {
    server_.stop();
    std::lock_guard<std::mutex> lock(mutex_);
    stops_.push_back(std::chrono::system_clock::now());
  }
  if (previous == SinkMode::Refused) server_.start();
}

std::vector<HttpDelivery> FlappingSink::deliveries() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return deliveries_;
}

std::vector<std::chrono::system_clock::time_point> FlappingSink::stops() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stops_;
}

test::HttpTestResponse FlappingSink::answer(const test::ReceivedRequest& request) {
  test::HttpTestResponse response;
  switch (mode_.load()) {
    case SinkMode::Ok: {
      auto key = request.headers.find("idempotency-key");
      std::lock_guard<std::mutex> lock(mutex_);
      auto source = request.headers.find("x-sluice-source");
      deliveries_.push_back({request.body, key == request.headers.end() ? "" : key->second,
                             std::chrono::system_clock::now(), source == request.headers.end() ? "" : source->second});
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

SinkFlapper::SinkFlapper(FlappingSink& sink, Random& random, std::chrono::steady_clock::time_point now)
    : sink_(sink), random_(random), next_change_(now + random.between(std::chrono::milliseconds(1000),
                                                                       std::chrono::milliseconds(4000))) {}

std::string SinkFlapper::step(std::chrono::steady_clock::time_point now) {
  using std::chrono::milliseconds;
  if (now < next_change_) return "";
  if (sink_.mode() != SinkMode::Ok) {
    sink_.set_mode(SinkMode::Ok);
    next_change_ = now + random_.between(milliseconds(2000), milliseconds(6000));
    return "";
  }
  static const std::vector<SinkMode> kBad = {SinkMode::Unavailable, SinkMode::Hang, SinkMode::Refused};
  SinkMode mode = kBad[random_.pick({1, 1, 1})];
  sink_.set_mode(mode);
  next_change_ = now + random_.between(milliseconds(1000), milliseconds(4000));
  return std::string("http ") + sink_mode_name(mode) + " period";
}

}  // namespace sluice::chaos
