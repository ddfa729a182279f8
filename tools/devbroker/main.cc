// sluice-devbroker: librdkafka's mock Kafka cluster as a standalone process, for tests,
// benchmarks and the local demo. See usage_text() for the command line and
// command_handler.h for the control protocol.
//
// Threading: everything here runs on the main thread, including every call into the mock
// cluster; librdkafka runs the brokers on its own threads. Signals are blocked before any
// librdkafka thread exists and are read from a signalfd in the same poll() loop as the
// control channels, so a stop request is handled between two commands, never inside one.
//
// Stop (signal, end of stdin with --stdin-control, or --max-lifetime): the control FIFO and
// bootstrap file are removed first, so nobody connects to a broker that is going away, then
// the cluster is destroyed (about a second), then the pid file is removed and the process
// exits 0.

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/log.h"
#include "devbroker/command_handler.h"
#include "devbroker/control_fifo.h"
#include "devbroker/bounds.h"
#include "devbroker/line_buffer.h"
#include "devbroker/mock_cluster.h"
#include "devbroker/options.h"
#include "devbroker/owned_path.h"
#include "devbroker/unique_fd.h"

namespace sluice::devbroker {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr size_t kReadChunkBytes = 4096;

// stdout carries the bootstrap line and the command replies, which harnesses read line by
// line, so each line is flushed at once. A harness must drain stdout (or point it at a file):
// a full pipe blocks the loop. A closed pipe is ignored (SIGPIPE is ignored).
void emit_line(std::string_view line) {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

// One control source (FIFO or stdin) with its partial-line state.
struct Channel {
  LineBuffer lines{kMaxLineBytes};
};

enum class ReadResult { Data, NoData, End };

ReadResult read_once(int fd, Channel& channel) {
  char chunk[kReadChunkBytes];
  ssize_t n = ::read(fd, chunk, sizeof chunk);
  if (n > 0) {
    channel.lines.append(std::string_view(chunk, static_cast<size_t>(n)));
    return ReadResult::Data;
  }
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return ReadResult::NoData;
  if (n < 0) log::warn("control channel read failed", {{"error", std::strerror(errno)}});
  return ReadResult::End;
}

void answer(CommandHandler& handler, const Line& line) {
  std::string reply = line.overlong ? CommandHandler::reply_overlong(line.text, kMaxLineBytes)
                                    : handler.execute(line.text);
  if (!reply.empty()) emit_line(reply);
}

void answer_complete_lines(CommandHandler& handler, Channel& channel) {
  Line line;
  while (channel.lines.next_line(line)) answer(handler, line);
}

void answer_rest(CommandHandler& handler, Channel& channel) {
  Line line;
  if (channel.lines.take_rest(line)) answer(handler, line);
}

// Blocks the stop signals in this thread, and so in every thread librdkafka starts later,
// and returns a descriptor that reports them.
UniqueFd block_stop_signals(std::string* error) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  if (sigprocmask(SIG_BLOCK, &signals, nullptr) != 0) {
    *error = std::string("cannot block signals: ") + std::strerror(errno);
    return UniqueFd();
  }
  UniqueFd fd(signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!fd.valid()) *error = std::string("cannot create signalfd: ") + std::strerror(errno);
  return fd;
}

std::string signal_name(uint32_t signal) {
  switch (signal) {
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    case SIGHUP: return "SIGHUP";
  }
  return std::to_string(signal);
}

int fail(std::string_view msg, const std::string& error) {
  log::error(msg, {{"error", error}});
  return kExitFailure;
}

int run(const Options& options) {
  ::signal(SIGPIPE, SIG_IGN);
  std::string error;
  UniqueFd signals = block_stop_signals(&error);
  if (!signals.valid()) return fail("cannot set up signal handling", error);

  std::optional<std::chrono::steady_clock::time_point> deadline;
  if (options.max_lifetime) deadline = std::chrono::steady_clock::now() + *options.max_lifetime;

  // Declaration order makes the destruction order described at the top of this file.
  std::optional<OwnedPath> pid_file;
  std::unique_ptr<MockCluster> cluster = MockCluster::create(options.brokers, &error);
  if (!cluster) return fail("cannot start mock cluster", error);

  for (const TopicSpec& topic : options.topics) {
    rd_kafka_resp_err_t err = cluster->create_topic(topic.name, topic.partitions);
    if (err) return fail("cannot create topic", topic.name + ": " + describe_error(err));
  }
  for (const std::string& topic : options.missing_topics) {
    cluster->set_topic_error(topic, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
  }

  // The FIFO and pid file exist before the bootstrap file, which is the readiness signal.
  std::unique_ptr<ControlFifo> fifo;
  if (!options.control_fifo.empty()) {
    fifo = ControlFifo::open(options.control_fifo, &error);
    if (!fifo) return fail("cannot open control fifo", error);
  }
  if (!options.pid_file.empty()) {
    if (!write_file_atomically(options.pid_file, std::to_string(::getpid()) + "\n", &error)) {
      return fail("cannot write pid file", error);
    }
    pid_file.emplace(options.pid_file);
  }
  emit_line(cluster->bootstrap_servers());
  std::optional<OwnedPath> bootstrap_file;
  if (!options.bootstrap_file.empty()) {
    if (!write_file_atomically(options.bootstrap_file, cluster->bootstrap_servers() + "\n", &error)) {
      return fail("cannot write bootstrap file", error);
    }
    bootstrap_file.emplace(options.bootstrap_file);
  }
  log::info("dev broker ready", {{"bootstrap", cluster->bootstrap_servers()},
                                 {"brokers", options.brokers},
                                 {"pid", static_cast<int64_t>(::getpid())}});

  CommandHandler handler(*cluster);
  Channel fifo_channel;
  Channel stdin_channel;
  bool stdin_open = options.stdin_control;
  std::string stop_reason;

  while (stop_reason.empty()) {
    pollfd fds[3];
    nfds_t count = 0;
    fds[count++] = {signals.get(), POLLIN, 0};
    int fifo_index = -1;
    int stdin_index = -1;
    if (fifo) {
      fifo_index = static_cast<int>(count);
      fds[count++] = {fifo->fd(), POLLIN, 0};
    }
    if (stdin_open) {
      stdin_index = static_cast<int>(count);
      fds[count++] = {STDIN_FILENO, POLLIN, 0};
    }

    int timeout_ms = -1;
    if (deadline) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        stop_reason = "max lifetime reached";
        break;
      }
      timeout_ms = static_cast<int>(std::min<int64_t>(left.count(), INT_MAX));
    }

    int ready = ::poll(fds, count, timeout_ms);
    if (ready < 0) {
      if (errno == EINTR) continue;
      return fail("poll failed", std::strerror(errno));
    }
    if (ready == 0) continue;  // the deadline check at the top decides

    if (fds[0].revents != 0) {
      signalfd_siginfo info{};
      if (::read(signals.get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
        stop_reason = signal_name(info.ssi_signo);
      }
      continue;
    }
    if (fifo_index >= 0 && fds[fifo_index].revents != 0) {
      ReadResult result = read_once(fifo->fd(), fifo_channel);
      answer_complete_lines(handler, fifo_channel);
      if (result == ReadResult::End) {
        answer_rest(handler, fifo_channel);
        if (!fifo->reopen(&error)) return fail("cannot reopen control fifo", error);
      }
    }
    if (stdin_index >= 0 && fds[stdin_index].revents != 0) {
      ReadResult result = read_once(STDIN_FILENO, stdin_channel);
      answer_complete_lines(handler, stdin_channel);
      if (result == ReadResult::End) {
        answer_rest(handler, stdin_channel);
        stdin_open = false;
        stop_reason = "end of stdin";
      }
    }
  }

  log::info("dev broker stopping", {{"reason", stop_reason}});
  fifo.reset();
  bootstrap_file.reset();
  cluster.reset();
  pid_file.reset();
  return kExitOk;
}

}  // namespace
}  // namespace sluice::devbroker

int main(int argc, char** argv) {
  using namespace sluice::devbroker;
  std::span<const char* const> args(argc > 0 ? argv + 1 : argv, argc > 0 ? static_cast<size_t>(argc - 1) : 0);
  ParsedOptions parsed = parse_options(args);
  switch (parsed.action) {
    case Action::Help:
      std::fputs(usage_text().c_str(), stdout);
      return kExitOk;
    case Action::Invalid:
      std::fprintf(stderr, "sluice-devbroker: %s\n%s(--help describes every option)\n", parsed.error.c_str(),
                   usage_synopsis().c_str());
      return kExitUsage;
    case Action::Run:
      break;
  }
  return run(parsed.options);
}
