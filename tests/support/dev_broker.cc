#include "support/dev_broker.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>

#include "support/wait.h"

namespace sluice::test {

using namespace std::chrono_literals;

DevBroker::DevBroker(const std::vector<TopicSpec>& topics, int brokers, const std::vector<std::string>& missing_topics) {
  std::string bootstrap_file = dir_.file("bootstrap");
  control_path_ = dir_.file("control");
  std::vector<std::string> argv = {SLUICE_DEVBROKER_BIN, "--brokers", std::to_string(brokers), "--bootstrap-file",
                                   bootstrap_file, "--control", control_path_, "--max-lifetime", "1800"};
  for (const TopicSpec& topic : topics) {
    argv.push_back("--topic");
    argv.push_back(topic.name + ":" + std::to_string(topic.partitions));
  }
  for (const std::string& topic : missing_topics) {
    argv.push_back("--missing-topic");
    argv.push_back(topic);
  }
  process_ = std::make_unique<ChildProcess>(argv, dir_.file("stdout"), dir_.file("stderr"));
  bool ready = wait_until([&] { return access(bootstrap_file.c_str(), R_OK) == 0 || !process_->running(); }, 20s);
  if (!ready || !process_->running()) {
    throw std::runtime_error("sluice-devbroker did not start: " + read_file(dir_.file("stderr")));
  }
  bootstrap_ = read_file(bootstrap_file);
  while (!bootstrap_.empty() && (bootstrap_.back() == '\n' || bootstrap_.back() == '\r')) bootstrap_.pop_back();
  // The first stdout line is the bootstrap string; replies to commands follow it.
  replies_seen_ = 1;
}

DevBroker::~DevBroker() {
  process_->signal(SIGTERM);
  if (!process_->wait(5s)) process_->signal(SIGKILL);
}

void DevBroker::control(const std::string& command) {
  // The broker reopens the FIFO after each writer closes it: a write that meets the moment in
  // between fails with EPIPE (SIGPIPE ignored: it would end the test process) and is made again.
  static const bool sigpipe_ignored = ::signal(SIGPIPE, SIG_IGN) != SIG_ERR;
  (void)sigpipe_ignored;
  const std::string line = command + "\n";
  bool written = false;
  bool sent = wait_until([&] {
    int fd = open(control_path_.c_str(), O_WRONLY | O_NONBLOCK);
    if (fd < 0) return false;
    written = write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
    const bool broken = !written && errno == EPIPE;
    close(fd);
    return !broken;
  }, 5s);
  if (!sent) throw std::runtime_error("cannot write to the dev broker's control FIFO");
  if (!written) throw std::runtime_error("short write to the control FIFO");
  std::string reply;
  bool answered = wait_until([&] {
    std::string out = read_file(dir_.file("stdout"));
    size_t start = 0;
    size_t lines = 0;
    while (true) {
      size_t end = out.find('\n', start);
      if (end == std::string::npos) return false;
      if (++lines > replies_seen_) {
        reply = out.substr(start, end - start);
        replies_seen_ = lines;
        return true;
      }
      start = end + 1;
    }
  }, 10s);
  if (!answered) throw std::runtime_error("no reply to control command: " + command);
  if (reply.rfind("OK", 0) != 0) throw std::runtime_error("control command failed: " + reply);
}

}  // namespace sluice::test
