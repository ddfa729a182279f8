#pragma once
// A child process for tests: started with fork/exec, stdout and stderr into files, stopped
// with any signal, and always killed (SIGKILL) and reaped by the destructor.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sluice::test {

class ChildProcess {
 public:
  // `env` entries are added to (or replace those of) the test's own environment.
  ChildProcess(std::vector<std::string> argv, std::string stdout_path, std::string stderr_path,
               std::map<std::string, std::string> env = {});
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int signal_number);
  // Exit status (exit code, or 128 + signal) once the process has ended, or nullopt when it
  // is still running after `timeout`.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  bool running();
  const std::string& stdout_path() const { return stdout_path_; }
  const std::string& stderr_path() const { return stderr_path_; }

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
  std::string stdout_path_;
  std::string stderr_path_;
};

// Runs a command to completion (bounded by `timeout`) and returns its exit status;
// stdout goes to *output when given.
int run_command(const std::vector<std::string>& argv, std::string* output = nullptr,
                std::chrono::milliseconds timeout = std::chrono::seconds(60), const std::string& stdin_data = "");

// A process's resident set size (VmRSS), or -1 once it is gone.
int64_t resident_bytes(pid_t pid);

std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& content);

}  // namespace sluice::test
