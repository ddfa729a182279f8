// The loader's handling of durations, retry tiers, route error names, the files a config
// points at (relative paths, TLS files) and the config file's own size limit.

#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "config/config_files.h"
#include "config/loader.h"

namespace sluice::config {
namespace {

namespace fs = std::filesystem;
using Errors = std::vector<std::string>;

const EnvLookup kNoEnv = [](std::string_view) -> std::optional<std::string> { return std::nullopt; };

Errors errors_of(std::string_view yaml) { return load_string(yaml, "t.yaml", kNoEnv).errors; }

// True when one error starts with `prefix` ("t.yaml:3:13: pipeline.dedup.window: ").
bool has_error(const Errors& errors, const std::string& prefix) {
  return std::any_of(errors.begin(), errors.end(), [&](const std::string& e) { return e.rfind(prefix, 0) == 0; });
}

// A directory of its own under the system's temp directory, removed at the end of the test.
struct ScratchDir {
  fs::path path;
  ScratchDir() {
    std::string pattern = (fs::temp_directory_path() / "sluice-config-XXXXXX").string();
    path = mkdtemp(pattern.data());
  }
  ~ScratchDir() { fs::remove_all(path); }
  std::string write(const std::string& name, const std::string& text) const {
    fs::path file = path / name;
    fs::create_directories(file.parent_path());
    std::ofstream(file) << text;
    return file.string();
  }
};

TEST_CASE("durations take each unit once, largest first", "[config][loader][files]") {
  for (const char* good : {"1h30m", "90s", "1d2h3m4s5ms", "1m500ms", "0"}) {
    INFO(good);
    CHECK(errors_of(std::string("pipeline:\n  dedup:\n    window: ") + (good == std::string("0") ? "1h" : good) +
                    "\n") == Errors{});
  }
  for (const char* bad : {"1h30m30m", "1s1s", "30m1h", "1s500ms500ms", "5ms1s"}) {
    INFO(bad);
    Errors errors = errors_of(std::string("shutdown:\n  drain_timeout: ") + bad + "\n");
    CHECK(has_error(errors, "t.yaml:2:18: shutdown.drain_timeout: \"" + std::string(bad) + "\" is not a duration"));
  }
}

TEST_CASE("retry tiers report repeats and bad entries in one pass", "[config][loader][files]") {
  Errors errors = errors_of("retry:\n  tiers: [10s, 10s, -1s]\n");
  CHECK(errors == Errors{
                      "t.yaml:2:16: retry.tiers[1]: \"10s\" repeats retry.tiers[0]; two tiers with the same delay "
                      "would share one topic",
                      "t.yaml:2:21: retry.tiers[2]: \"-1s\" is not a duration; write a number and a unit (ms, s, m, "
                      "h, d), e.g. 500ms, 10s, 5m, 24h or 1h30m",
                  });
}

TEST_CASE("route error names and classes are checked while loading, with the other errors", "[config][loader][files]") {
  LoadResult bad = load_string(
      "routes:\n"
      "  - match: {channel: email}\n"
      "    topic: out\n"
      "    errors: {NOT_AN_ERROR_NAME: bad_data, MSG_SIZE_TOO_LARGE: sometimes}\n"
      "retry:\n"
      "  tiers: [1s1s]\n",
      "t.yaml", kNoEnv);
  CHECK(has_error(bad.errors, "t.yaml:4:14: routes[0].errors.NOT_AN_ERROR_NAME: \"NOT_AN_ERROR_NAME\" is not a "
                              "librdkafka error name"));
  CHECK(has_error(bad.errors, "t.yaml:4:43: routes[0].errors.MSG_SIZE_TOO_LARGE: \"sometimes\" is not one of"));
  CHECK(has_error(bad.errors, "t.yaml:6:11: retry.tiers[0]: \"1s1s\" is not a duration"));

  LoadResult good = load_string(
      "routes:\n"
      "  - match: {channel: email}\n"
      "    topic: out\n"
      "    errors: {TOPIC_AUTHORIZATION_FAILED: bad_data}\n",
      "t.yaml", kNoEnv);
  REQUIRE(good.errors == Errors{});
  const RouteErrorTable& table = good.config->routes[0].error_table;
  REQUIRE(table.kafka.size() == 1);
  CHECK(table.kafka.begin()->first == 29);  // RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED
  CHECK(table.kafka.begin()->second == ErrorClass::BadData);
}

TEST_CASE("relative paths resolve against the config file's directory", "[config][loader][files]") {
  ScratchDir dir;
  dir.write("tls/ca.pem", "not checked here\n");
  std::string path = dir.write("etc/sluice.yaml",
                               "kafka:\n"
                               "  properties: {ssl.ca.location: ../tls/ca.pem}\n"
                               "  consumer_properties: {ssl.ca.location: probe}\n"
                               "pipeline:\n"
                               "  schemas_dir: schemas\n"
                               "  filter:\n"
                               "    blocked_senders_file: /abs/blocked.txt\n"
                               "  dedup:\n"
                               "    sqlite_path: state/dedup.db\n");
  // From another working directory: the result must not depend on it.
  fs::path before = fs::current_path();
  fs::current_path(fs::temp_directory_path());
  LoadResult result = load_file(path, kNoEnv);
  fs::current_path(before);
  REQUIRE(result.errors == Errors{});
  const Config& config = *result.config;
  std::string etc = (dir.path / "etc").string();
  CHECK(config.pipeline.schemas_dir == etc + "/schemas");
  CHECK(config.pipeline.dedup.sqlite_path == etc + "/state/dedup.db");
  CHECK(config.pipeline.filter.blocked_senders_file == "/abs/blocked.txt");
  CHECK(config.kafka.properties.at("ssl.ca.location") == (dir.path / "tls/ca.pem").string());
  CHECK(config.kafka.consumer_properties.at("ssl.ca.location") == "probe");

  // Without a file (and so without a directory) relative paths stay as written.
  LoadResult unanchored = load_string("pipeline:\n  schemas_dir: schemas\n", "t.yaml", kNoEnv);
  REQUIRE(unanchored.ok());
  CHECK(unanchored.config->pipeline.schemas_dir == "schemas");
}

TEST_CASE("TLS files that cannot be read are errors at their key", "[config][loader][files]") {
  ScratchDir dir;
  std::string path = dir.write("sluice.yaml",
                               "kafka:\n"
                               "  producer_properties: {ssl.key.location: missing.key}\n"
                               "routes:\n"
                               "  - match: {channel: email}\n"
                               "    http:\n"
                               "      url: https://127.0.0.1:8443/\n"
                               "      tls: {ca_file: missing-ca.pem}\n");
  Errors errors = load_file(path, kNoEnv).errors;
  CHECK(has_error(errors, path + ":2:25: kafka.producer_properties.ssl.key.location: cannot read " +
                              (dir.path / "missing.key").string() + ": No such file or directory"));
  CHECK(has_error(errors, path + ":7:22: routes[0].http.tls.ca_file: cannot read " +
                              (dir.path / "missing-ca.pem").string() + ": No such file or directory"));
}

TEST_CASE("a config file past the size limit is refused before it is parsed", "[config][loader][files]") {
  ScratchDir dir;
  // Valid YAML all the way (one long comment), so only the limit can refuse it.
  std::string path = dir.write("big.yaml", "# " + std::string(kMaxConfigFileBytes, 'x') + "\n");
  Errors errors = load_file(path, kNoEnv).errors;
  REQUIRE(errors.size() == 1);
  CHECK(errors[0] == path + ": cannot read: the file is " + std::to_string(kMaxConfigFileBytes + 3) +
                         " bytes; the limit is 4194304 (4 MiB)");

  std::string fits = dir.write("fits.yaml", "# " + std::string(kMaxConfigFileBytes - 3, 'x') + "\n");
  CHECK(load_file(fits, kNoEnv).errors == Errors{});
}

}  // namespace
}  // namespace sluice::config
