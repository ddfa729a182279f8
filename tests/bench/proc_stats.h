#pragma once
// What the bench reads about its child processes from /proc: CPU time (whole and by thread),
// memory, and which child runs a command.

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace sluice::bench {

// utime + stime from a /proc stat file, in seconds, and the command name in it; -1 once the
// process or thread is gone.
double cpu_seconds_of(const std::string& stat_path, std::string* name = nullptr);
// utime + stime of a process, in seconds; -1 once it is gone.
double cpu_seconds(pid_t pid);
// CPU seconds of a process's threads, summed by thread name.
std::map<std::string, double> thread_cpu_seconds(pid_t pid);
// What each thread name used between two thread_cpu_seconds() samples, largest first.
std::vector<std::pair<std::string, double>> thread_cpu_delta(const std::map<std::string, double>& before,
                                                             const std::map<std::string, double>& after);
// A /proc/<pid>/status field in kB, as bytes; -1 when absent.
int64_t status_bytes(pid_t pid, const std::string& field);
// The child of this process running `command`; -1 if none.
pid_t child_named(const std::string& command);

}  // namespace sluice::bench
