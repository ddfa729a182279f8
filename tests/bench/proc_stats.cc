#include "bench/proc_stats.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

namespace sluice::bench {

double cpu_seconds_of(const std::string& stat_path, std::string* name) {
  std::ifstream in(stat_path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t open = text.find('(');
  size_t paren = text.rfind(')');  // the command name may contain spaces
  if (open == std::string::npos || paren == std::string::npos || paren + 2 > text.size()) return -1;
  if (name != nullptr) *name = text.substr(open + 1, paren - open - 1);
  std::istringstream fields(text.substr(paren + 2));
  std::string field;
  // After the name: state(3) ... utime(14) stime(15), counting from pid as field 1.
  double utime = 0, stime = 0;
  for (int index = 3; index <= 15 && fields >> field; ++index) {
    if (index == 14) utime = std::stod(field);
    if (index == 15) stime = std::stod(field);
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// utime + stime of a process, in seconds; -1 once it is gone.
double cpu_seconds(pid_t pid) { return cpu_seconds_of("/proc/" + std::to_string(pid) + "/stat"); }

// CPU seconds of a process's threads, summed by thread name.
std::map<std::string, double> thread_cpu_seconds(pid_t pid) {
  std::map<std::string, double> by_name;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", error)) {
    std::string name;
    const double seconds = cpu_seconds_of((entry.path() / "stat").string(), &name);
    if (seconds >= 0) by_name[name] += seconds;
  }
  return by_name;
}

// What each thread name used between two thread_cpu_seconds() samples, largest first.
std::vector<std::pair<std::string, double>> thread_cpu_delta(const std::map<std::string, double>& before,
                                                             const std::map<std::string, double>& after) {
  std::vector<std::pair<std::string, double>> delta;
  for (const auto& [name, seconds] : after) {
    auto earlier = before.find(name);
    const double used = seconds - (earlier != before.end() ? earlier->second : 0);
    if (used > 0) delta.emplace_back(name, used);
  }
  std::sort(delta.begin(), delta.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  return delta;
}

// A /proc/<pid>/status field in kB, as bytes; -1 when absent.
int64_t status_bytes(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stoll(line.substr(field.size() + 1)) * 1024;
  }
  return -1;
}

// The child of this process running `command` (RedisServer keeps its pid to itself); -1 if none.
pid_t child_named(const std::string& command) {
  const pid_t self = getpid();
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", error)) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "stat");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    size_t open = text.find('(');
    size_t close = text.rfind(')');
    if (open == std::string::npos || close == std::string::npos || close + 2 > text.size()) continue;
    std::istringstream rest(text.substr(close + 2));
    std::string state;
    pid_t parent = 0;
    rest >> state >> parent;
    if (parent == self && text.substr(open + 1, close - open - 1) == command) return std::stoi(name);
  }
  return -1;
}

}  // namespace sluice::bench
