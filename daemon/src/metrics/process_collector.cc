#include "metrics/process_collector.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "metrics/metrics.h"

namespace sluice::metrics {
namespace {

std::string read_text(const char* path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Seconds since the epoch at boot: the btime line of /proc/stat.
std::optional<double> boot_time() {
  std::istringstream lines(read_text("/proc/stat"));
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("btime ", 0) == 0) return std::stod(line.substr(6));
  }
  return std::nullopt;
}

std::optional<double> count_open_fds() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return std::nullopt;
  double count = 0;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] != '.') count += 1;
  }
  ::closedir(dir);
  return count - 1;  // the directory's own descriptor, open while it is listed
}

prometheus::MetricFamily family(MetricId id, double value) {
  const MetricSpec& spec = metric_spec(id);
  prometheus::MetricFamily out;
  out.name = spec.name;
  out.help = spec.help;
  prometheus::ClientMetric metric;
  if (spec.type == MetricType::Counter) {
    out.type = prometheus::MetricType::Counter;
    metric.counter.value = value;
  } else {
    out.type = prometheus::MetricType::Gauge;
    metric.gauge.value = value;
  }
  out.metric.push_back(std::move(metric));
  return out;
}

}  // namespace

std::optional<ProcessStats> read_process_stats() {
  // /proc/self/stat: "pid (comm) state ppid ...". comm may hold spaces and parentheses, so
  // the fields are counted from the last ')': state is field 3, utime 14, stime 15,
  // starttime 22 (ticks since boot), vsize 23 (bytes), rss 24 (pages).
  const std::string stat = read_text("/proc/self/stat");
  const size_t close = stat.rfind(')');
  const std::optional<double> booted = boot_time();
  const std::optional<double> fds = count_open_fds();
  if (close == std::string::npos || !booted || !fds) return std::nullopt;
  std::istringstream fields(stat.substr(close + 2));
  std::vector<std::string> field(23);  // field[i] is stat field i + 3
  for (std::string& value : field) fields >> value;
  if (!fields) return std::nullopt;
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  ProcessStats stats;
  stats.cpu_seconds = (std::stod(field[14 - 3]) + std::stod(field[15 - 3])) / ticks;
  stats.start_time_seconds = *booted + std::stod(field[22 - 3]) / ticks;
  stats.virtual_bytes = std::stod(field[23 - 3]);
  stats.resident_bytes = std::stod(field[24 - 3]) * page;
  stats.open_fds = *fds;
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) stats.max_fds = static_cast<double>(limit.rlim_cur);
  return stats;
}

std::vector<prometheus::MetricFamily> ProcessCollector::Collect() const {
  const std::optional<ProcessStats> stats = read_process_stats();
  if (!stats) return {};
  return {family(MetricId::ProcessCpuSeconds, stats->cpu_seconds),
          family(MetricId::ProcessResidentMemory, stats->resident_bytes),
          family(MetricId::ProcessVirtualMemory, stats->virtual_bytes),
          family(MetricId::ProcessOpenFds, stats->open_fds),
          family(MetricId::ProcessMaxFds, stats->max_fds),
          family(MetricId::ProcessStartTime, stats->start_time_seconds)};
}

}  // namespace sluice::metrics
