#include "support/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace sluice::test {
namespace {

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

ChildProcess::ChildProcess(std::vector<std::string> argv, std::string stdout_path, std::string stderr_path,
                           std::map<std::string, std::string> env)
    : stdout_path_(std::move(stdout_path)), stderr_path_(std::move(stderr_path)) {
  std::vector<std::string> environment;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    std::string item = *entry;
    std::string name = item.substr(0, item.find('='));
    if (env.count(name) == 0) environment.push_back(item);
  }
  for (const auto& [name, value] : env) environment.push_back(name + "=" + value);
  std::vector<char*> args;
  for (std::string& arg : argv) args.push_back(arg.data());
  args.push_back(nullptr);
  std::vector<char*> envp;
  for (std::string& item : environment) envp.push_back(item.data());
  envp.push_back(nullptr);

  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid_ == 0) {
    int out = open(stdout_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    int err = open(stderr_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    int in = open("/dev/null", O_RDONLY);
    if (out < 0 || err < 0 || in < 0) _exit(126);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    setpgid(0, 0);  // its own group, so a terminal's Ctrl-C goes to the test only
    // A test process that dies (an abort, a failed REQUIRE in a destructor) takes its children
    // along instead of leaving daemons and brokers running on the machine. Children are only
    // started from the test's main thread, whose exit is the process's.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    // Nothing of the test process but stdio: an inherited listening socket (a test HTTP
    // server's, say) would keep that port listening inside the child after the test closed it.
    close_range(3, ~0U, 0);
    execve(args[0], args.data(), envp.data());
    _exit(127);
  }
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !status_) {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
}

void ChildProcess::signal(int signal_number) {
  if (pid_ > 0 && !status_) kill(pid_, signal_number);
}

std::optional<int> ChildProcess::wait(std::chrono::milliseconds timeout) {
  if (status_) return status_;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int status = 0;
    pid_t result = waitpid(pid_, &status, WNOHANG);
    if (result == pid_) {
      status_ = decode_status(status);
      return status_;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

bool ChildProcess::running() { return !wait(std::chrono::milliseconds(0)).has_value(); }

int run_command(const std::vector<std::string>& argv, std::string* output, std::chrono::milliseconds timeout,
                const std::string& stdin_data) {
  char out_template[] = "/tmp/sluice-test-out-XXXXXX";
  int out_fd = mkstemp(out_template);
  char in_template[] = "/tmp/sluice-test-in-XXXXXX";
  int in_fd = mkstemp(in_template);
  if (out_fd < 0 || in_fd < 0) throw std::runtime_error("mkstemp failed");
  if (!stdin_data.empty() && ::write(in_fd, stdin_data.data(), stdin_data.size()) != static_cast<ssize_t>(stdin_data.size())) {
    throw std::runtime_error("cannot write stdin file");
  }
  close(out_fd);
  close(in_fd);
  pid_t pid = fork();
  if (pid == 0) {
    int in = open(in_template, O_RDONLY);
    int out = open(out_template, O_WRONLY | O_TRUNC);
    if (in < 0 || out < 0) _exit(126);
    dup2(in, 0);
    dup2(out, 1);
    close_range(3, ~0U, 0);  // as in ChildProcess: the child gets stdio only
    std::vector<char*> args;
    for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  int status = -1;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int raw = 0;
    if (waitpid(pid, &raw, WNOHANG) == pid) {
      status = decode_status(raw);
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &raw, 0);
      status = -1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (output != nullptr) *output = read_file(out_template);
  unlink(out_template);
  unlink(in_template);
  return status;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out) throw std::runtime_error("cannot write " + path);
}

int64_t resident_bytes(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6)) * 1024;  // "VmRSS:  1234 kB"
  }
  return -1;
}

}  // namespace sluice::test
