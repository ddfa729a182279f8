// `sluice check-config` refuses exactly what `sluice run` refuses, with the same
// FILE:LINE:COL messages and exit 2, and run refuses before it connects anywhere; the shipped
// config is valid from any working directory.

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "support/process.h"
#include "support/temp_dir.h"

using namespace sluice::test;

namespace {

// Valid on its own, with nothing to connect to: port 1 refuses at once, and the admin
// server is off, so a run that got past its checks would fail with exit 1, not 2.
const std::string kHeader =
    "kafka:\n"
    "  brokers: 127.0.0.1:1\n"
    "inbound:\n"
    "  topics: [in]\n"
    "admin:\n"
    "  listen: \"\"\n";  // lines 1-6

std::string shell_quote(const std::string& text) { return "'" + text + "'"; }

}  // namespace

TEST_CASE("check-config and run refuse the same config errors with exit 2 and FILE:LINE:COL", "[integration][cli]") {
  TempDir dir;
  // The schemas and blocked senders of the shipped config, beside each test file.
  run_command({"/bin/sh", "-c",
               "cp -r " + shell_quote(std::string(SLUICE_SOURCE_DIR) + "/config/schemas") + " " +
                   shell_quote(std::string(SLUICE_SOURCE_DIR) + "/config/blocked_senders.txt") + " " +
                   shell_quote(dir.path())});
  auto file_with = [&](const std::string& name, const std::string& body) {
    std::string path = dir.path() + "/" + name + ".yaml";
    write_file(path, kHeader + "pipeline:\n  schemas_dir: schemas\n  filter: {blocked_senders_file: blocked_senders.txt}\n"
                               "  dedup: {backend: memory}\n" + body);  // body starts at line 11
    return path;
  };
  struct Case {
    std::string body;
    int line;
    std::string key_error;
  };
  const std::vector<Case> body_cases = {
      {"routes:\n  - match: {channel: email}\n    topic: out\n    errors: {NOT_AN_ERROR_NAME: bad_data}\n", 14,
       "routes[0].errors.NOT_AN_ERROR_NAME: \"NOT_AN_ERROR_NAME\" is not a librdkafka error name"},
      {"routes:\n  - match: {channel: email}\n    http:\n      url: http://user:pass@127.0.0.1:8080/x\n", 14,
       "routes[0].http.url: invalid url: credentials"},
      {"routes:\n  - match: {channel: email}\n    http:\n      url: https://127.0.0.1:8443/x\n"
       "      tls: {ca_file: missing-ca.pem}\n",
       15, "routes[0].http.tls.ca_file: cannot read"},
      {"retry:\n  tiers: [10s, 10s, -1s]\n", 12, "retry.tiers[1]: \"10s\" repeats"},
      {"retry:\n  tiers: [10s, 30m1h]\n", 12, "retry.tiers[1]: \"30m1h\" is not a duration"},
  };
  std::vector<std::pair<std::string, Case>> files;
  for (size_t i = 0; i < body_cases.size(); ++i) {
    files.emplace_back(file_with("case" + std::to_string(i), body_cases[i].body), body_cases[i]);
  }
  // librdkafka's own refusals: the kafka section is the file's first lines.
  const std::string rest = "inbound:\n  topics: [in]\nadmin:\n  listen: \"\"\npipeline:\n  schemas_dir: schemas\n"
                           "  filter: {blocked_senders_file: blocked_senders.txt}\n  dedup: {backend: memory}\n";
  std::string bogus = dir.path() + "/bogus.yaml";
  write_file(bogus, "kafka:\n  brokers: 127.0.0.1:1\n  properties: {bogus.property.xyz: \"1\"}\n" + rest);
  files.emplace_back(bogus, Case{"", 3, "kafka.properties.bogus.property.xyz: librdkafka: No such configuration property"});
  std::string zstdx = dir.path() + "/zstdx.yaml";
  write_file(zstdx, "kafka:\n  brokers: 127.0.0.1:1\n  producer_properties:\n    compression.type: zstdx\n" + rest);
  files.emplace_back(zstdx, Case{"", 4, "kafka.producer_properties.compression.type: librdkafka: Invalid value"});
  std::string tls = dir.path() + "/tls.yaml";
  write_file(tls, "kafka:\n  brokers: 127.0.0.1:1\n  properties: {ssl.ca.location: nowhere/ca.pem}\n" + rest);
  files.emplace_back(tls, Case{"", 3, "kafka.properties.ssl.ca.location: cannot read " + dir.path() + "/nowhere/ca.pem"});

  for (const auto& [path, expected] : files) {
    INFO(path << "\n" << expected.key_error);
    std::string wanted = path + ":" + std::to_string(expected.line) + ":";
    for (const char* command : {"check-config", "run"}) {
      INFO(command);
      std::string output;
      int status = run_command({"/bin/sh", "-c", std::string(SLUICE_BIN) + " " + command + " --config " + path + " 2>&1"},
                               &output, std::chrono::seconds(20));
      INFO(output);
      CHECK(status == 2);
      bool found = false;
      for (size_t at = output.find(wanted); at != std::string::npos; at = output.find(wanted, at + 1)) {
        size_t column_end = output.find(": ", at + wanted.size());
        if (column_end != std::string::npos && output.compare(column_end + 2, expected.key_error.size(), expected.key_error) == 0) {
          found = true;
        }
      }
      CHECK(found);
    }
  }
}

TEST_CASE("the shipped config passes check-config from any working directory", "[integration][cli]") {
  TempDir elsewhere;
  std::string output;
  int status = run_command({"/bin/sh", "-c",
                            "cd " + shell_quote(elsewhere.path()) + " && " + SLUICE_BIN + " check-config --config " +
                                shell_quote(std::string(SLUICE_SOURCE_DIR) + "/config/sluice.yaml") + " 2>&1"},
                           &output);
  INFO(output);
  CHECK(status == 0);

  // config/ copied elsewhere, with its schemas and blocked senders, checked from a third place.
  TempDir copy;
  run_command({"/bin/sh", "-c", "cp -r " + shell_quote(std::string(SLUICE_SOURCE_DIR) + "/config") + " " + shell_quote(copy.path())});
  status = run_command({"/bin/sh", "-c",
                        "cd " + shell_quote(elsewhere.path()) + " && " + SLUICE_BIN + " check-config --config " +
                            shell_quote(copy.path() + "/config/sluice.yaml") + " 2>&1"},
                       &output);
  INFO(output);
  CHECK(status == 0);
}
