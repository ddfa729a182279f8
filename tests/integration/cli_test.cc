// The `sluice` command line as an operator meets it.

#include <catch2/catch.hpp>

#include <sstream>

#include "support/process.h"
#include "support/temp_dir.h"

using namespace sluice::test;

namespace {

// True when some line of `output` is "<file>:<line>:<column>: <key>: ...".
bool has_error(const std::string& output, const std::string& file, int line, const std::string& key) {
  std::istringstream lines(output);
  std::string prefix = file + ":" + std::to_string(line) + ":";
  for (std::string text; std::getline(lines, text);) {
    if (text.rfind(prefix, 0) != 0) continue;
    size_t column_end = text.find(':', prefix.size());
    if (column_end == std::string::npos || column_end == prefix.size()) continue;
    bool digits = text.find_first_not_of("0123456789", prefix.size()) == column_end;
    if (digits && text.compare(column_end, key.size() + 4, ": " + key + ": ") == 0) return true;
  }
  return false;
}

// Every command of `sluice --help`.
constexpr const char* kCommands[] = {"run",    "check-config",     "fingerprint",      "replay",
                                     "status", "config-reference", "metrics-reference"};

}  // namespace

TEST_CASE("check-config accepts the shipped example config", "[integration][cli]") {
  std::string output;
  // From the repository root with a relative --config; other working directories are
  // config_parity_test's.
  int status = run_command({"/bin/sh", "-c",
                            std::string("cd ") + SLUICE_SOURCE_DIR + " && " + SLUICE_BIN +
                                " check-config --config config/sluice.yaml 2>&1"},
                           &output);
  INFO(output);
  CHECK(status == 0);
}

TEST_CASE("check-config prints every error with its line and exits 2", "[integration][cli]") {
  TempDir dir;
  std::string path = dir.file("broken.yaml");
  write_file(path,
             "kafka:\n"
             "  brokers: 127.0.0.1:9092\n"
             "  group_idd: sluice\n"              // line 3: unknown key
             "pipeline:\n"
             "  max_message_bytes: -5\n"          // line 5: out of range
             "  dedup:\n"
             "    window: forever\n"              // line 7: not a duration
             "dlq:\n"
             "  topic: dlq\n");
  std::string errors_file = dir.file("stderr");
  std::string output;
  int status = run_command({"/bin/sh", "-c", std::string(SLUICE_BIN) + " check-config --config " + path + " 2>&1"},
                           &output);
  INFO(output);
  CHECK(status == 2);
  CHECK(has_error(output, path, 3, "kafka.group_idd"));
  CHECK(has_error(output, path, 5, "pipeline.max_message_bytes"));
  CHECK(has_error(output, path, 7, "pipeline.dedup.window"));
}

TEST_CASE("version, help and unknown commands", "[integration][cli]") {
  std::string output;
  CHECK(run_command({SLUICE_BIN, "--version"}, &output) == 0);
  CHECK(output.rfind("sluice ", 0) == 0);
  // The revision the binary was built from (this checkout's), and the librdkafka it runs on.
  std::string revision;
  REQUIRE(run_command({"git", "-C", SLUICE_SOURCE_DIR, "rev-parse", "--short=12", "HEAD"}, &revision) == 0);
  revision = revision.substr(0, 12);
  CHECK(output.find("(git " + revision) != std::string::npos);
  CHECK(output.find("librdkafka 2.") != std::string::npos);
  CHECK(run_command({SLUICE_BIN, "--help"}, &output) == 0);
  for (const char* command : kCommands) {
    CHECK(output.find(std::string("  ") + command + " ") != std::string::npos);
  }
  CHECK(run_command({SLUICE_BIN, "frobnicate"}, &output) == 2);
  CHECK(run_command({SLUICE_BIN}, &output) == 2);
}

TEST_CASE("every command answers --help with its usage and exit 0", "[integration][cli]") {
  for (const char* command : kCommands) {
    INFO(command);
    std::string output;
    // Without the --help, replay would stop with a usage error (--from is required) and
    // fingerprint would wait for stdin: the help must win over both.
    CHECK(run_command({SLUICE_BIN, command, "--help"}, &output) == 0);
    CHECK(output.rfind(std::string("usage: sluice ") + command, 0) == 0);
    CHECK(run_command({SLUICE_BIN, "help", command}, &output) == 0);
    CHECK(output.rfind(std::string("usage: sluice ") + command, 0) == 0);
  }
  std::string output;
  CHECK(run_command({"/bin/sh", "-c", std::string(SLUICE_BIN) + " replay --frm dlq 2>&1"}, &output) == 2);
  CHECK(output.find("unknown replay option: --frm") != std::string::npos);
  CHECK(output.find("usage: sluice replay") != std::string::npos);
}
