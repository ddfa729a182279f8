#include "metrics/metrics.h"

#include <catch2/catch.hpp>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "metrics/process_collector.h"
#include "support/prometheus_text.h"

namespace sluice::metrics {
namespace {

const std::string kSourceDir = SLUICE_SOURCE_DIR;
const std::string kReferencePath = kSourceDir + "/docs/METRICS.md";

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The names a scrape may show for a family: a histogram's series, a counter without its
// _total (as prose sometimes names it).
std::set<std::string> known_names() {
  std::set<std::string> names;
  for (const MetricSpec& spec : metric_table()) {
    const std::string name = spec.name;
    names.insert(name);
    if (spec.type == MetricType::Histogram) {
      for (const char* suffix : {"_bucket", "_sum", "_count"}) names.insert(name + suffix);
    }
    if (spec.type == MetricType::Counter && name.ends_with("_total")) names.insert(name.substr(0, name.size() - 6));
  }
  return names;
}

}  // namespace

TEST_CASE("docs/METRICS.md is the reference rendered from the metric table", "[metrics][reference]") {
  const std::string generated = render_metrics_reference();
  if (const char* update = std::getenv("SLUICE_UPDATE_REFERENCE"); update != nullptr && std::string(update) == "1") {
    std::ofstream(kReferencePath, std::ios::binary) << generated;
  }
  INFO("docs/METRICS.md is out of date with kMetricTable (daemon/src/metrics/metrics.cc). Regenerate it with\n"
       "  SLUICE_UPDATE_REFERENCE=1 <build-dir>/bin/unit_metrics '[metrics][reference]'\n"
       "(or `sluice metrics-reference > docs/METRICS.md`) and review the diff.");
  CHECK(read_file(kReferencePath) == generated);
}

TEST_CASE("the reference has one row per family, with its type and labels", "[metrics][reference]") {
  const std::string markdown = render_metrics_reference();
  for (const MetricSpec& spec : metric_table()) {
    INFO(spec.name);
    CHECK(markdown.find("| `" + std::string(spec.name) + "` | " + std::string(type_name(spec.type)) + " |") !=
          std::string::npos);
  }
  CHECK(markdown.find("| `sluice_producer_errors_total` | counter | `destination`, `sink`, `class` |") != std::string::npos);
  CHECK(markdown.find("| `sluice_config_reloads_total` | counter | `result` (ok, failed, restart_required) |") != std::string::npos);
}

TEST_CASE("the docs, the dashboard and the alert rules name only metrics of the table", "[metrics][reference]") {
  std::vector<std::string> files = {kSourceDir + "/README.md", kSourceDir + "/docker/grafana/sluice-dashboard.json"};
  for (const auto& directory : {kSourceDir + "/docs", kSourceDir + "/docker/prometheus"}) {
    for (const auto& entry : std::filesystem::directory_iterator(directory)) {
      const std::string extension = entry.path().extension().string();
      if (extension == ".md" || extension == ".yml" || extension == ".yaml") files.push_back(entry.path().string());
    }
  }
  const std::set<std::string> known = known_names();
  const std::regex metric_name(R"(\bsluice_[a-z_]+)");
  for (const std::string& path : files) {
    const std::string text = read_file(path);
    REQUIRE_FALSE(text.empty());
    for (auto it = std::sregex_iterator(text.begin(), text.end(), metric_name); it != std::sregex_iterator(); ++it) {
      INFO(path << " names " << it->str());
      CHECK(known.contains(it->str()));
    }
  }
}

TEST_CASE("the families the table alone determines are exported from the start at zero", "[metrics]") {
  Metrics metrics;
  const std::string text = metrics.serialize();
  // prometheus-cpp leaves a family without series out of the scrape, so those labelled from
  // config appear once the daemon creates their series (tests/integration/metrics_test.cc).
  for (const MetricSpec& spec : metric_table()) {
    if (spec.label_count() > 0 && spec.fixed_values == nullptr) continue;
    INFO(spec.name);
    CHECK(text.find("# TYPE " + std::string(spec.name) + " ") != std::string::npos);
    if (spec.label_count() == 0 && spec.type != MetricType::Histogram && spec.source == MetricSource::Instrumented) {
      CHECK(test::metric_value(text, spec.name) == 0);
    }
  }
  CHECK(test::metric_value(text, "sluice_config_reloads_total", {{"result", "failed"}}) == 0);
  CHECK(test::metric_value(text, "sluice_config_reloads_total", {{"result", "ok"}}) == 0);
  CHECK(test::metric_value(text, "sluice_consumer_offset_commits_total", {{"result", "aborted"}}) == 0);
  CHECK(test::metric_value(text, "sluice_dlq_envelopes_truncated_total") == 0);
}

TEST_CASE("the process metrics are plausible and follow the process", "[metrics][process]") {
  const std::optional<ProcessStats> before = read_process_stats();
  REQUIRE(before);
  CHECK(before->resident_bytes > 1024 * 1024);
  CHECK(before->virtual_bytes >= before->resident_bytes);
  CHECK(before->open_fds >= 3);  // stdin, stdout, stderr at least
  CHECK(before->max_fds >= before->open_fds);
  const double now = static_cast<double>(std::chrono::duration_cast<std::chrono::seconds>(
                                              std::chrono::system_clock::now().time_since_epoch())
                                              .count());
  CHECK(before->start_time_seconds <= now + 1);
  CHECK(before->start_time_seconds > now - 3600);  // this test process started recently

  // Ten pipes: twenty more descriptors.
  std::vector<int> fds(20);
  for (size_t i = 0; i < fds.size(); i += 2) REQUIRE(::pipe(&fds[i]) == 0);
  const std::optional<ProcessStats> opened = read_process_stats();
  REQUIRE(opened);
  CHECK(opened->open_fds == before->open_fds + 20);
  for (int fd : fds) ::close(fd);
  CHECK(read_process_stats()->open_fds == before->open_fds);

  // CPU time moves while the process works (awaited: the kernel counts in clock ticks).
  volatile uint64_t sink = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  double cpu = before->cpu_seconds;
  while (cpu <= before->cpu_seconds && std::chrono::steady_clock::now() < deadline) {
    for (int i = 0; i < 1'000'000; ++i) sink = sink + static_cast<uint64_t>(i);
    cpu = read_process_stats()->cpu_seconds;
  }
  CHECK(cpu > before->cpu_seconds);

  // The same figures in the scrape, with the standard names and types.
  Metrics metrics;
  const std::string text = metrics.serialize();
  CHECK(text.find("# TYPE process_cpu_seconds_total counter") != std::string::npos);
  CHECK(text.find("# TYPE process_open_fds gauge") != std::string::npos);
  CHECK(test::metric_value(text, "process_resident_memory_bytes").value_or(0) > 0);
  CHECK(test::metric_value(text, "process_max_fds").value_or(0) == before->max_fds);
}

}  // namespace sluice::metrics
