#include <pthread.h>

#include <mutex>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "common/assert.h"
#include "http/http_client.h"

namespace sluice::http {

struct HttpRuntime::State {
  // Concurrency hint 1: exactly one thread runs this context.
  boost::asio::io_context io{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{io.get_executor()};
  std::thread thread;
  std::once_flag stopped;
};

HttpRuntime::HttpRuntime() : state_(std::make_unique<State>()) {
  state_->thread = std::thread([state = state_.get()] {
    pthread_setname_np(pthread_self(), "sluice-http");
    state->io.run();
  });
}

HttpRuntime::~HttpRuntime() { stop(); }

boost::asio::io_context& HttpRuntime::io() { return state_->io; }

// Handlers still queued are dropped unrun (and destroyed with the io_context): clients are
// shut down before the runtime stops, so none of them would deliver anything.
void HttpRuntime::stop() {
  SLUICE_ASSERT(std::this_thread::get_id() != state_->thread.get_id(), "the io thread cannot join itself");
  std::call_once(state_->stopped, [this] {
    state_->work.reset();
    state_->io.stop();
    if (state_->thread.joinable()) state_->thread.join();
  });
}

}  // namespace sluice::http
