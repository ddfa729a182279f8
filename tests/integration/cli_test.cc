// The `sluice` command line as an operator meets it.

#include <catch2/catch.hpp>

#include <regex>

#include "support/process.h"
#include "support/temp_dir.h"

using namespace sluice::test;

TEST_CASE("check-config accepts the shipped example config", "[integration][cli]") {
  std::string output;
  // Relative paths in the example (schemas_dir, blocked senders) are relative to the
  // working directory, as they are for the daemon: run it from the repository root.
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
  CHECK(std::regex_search(output, std::regex(path + ":3:[0-9]+: kafka\\.group_idd: ")));
  CHECK(std::regex_search(output, std::regex(path + ":5:[0-9]+: pipeline\\.max_message_bytes: ")));
  CHECK(std::regex_search(output, std::regex(path + ":7:[0-9]+: pipeline\\.dedup\\.window: ")));
}

TEST_CASE("version, help and unknown commands", "[integration][cli]") {
  std::string output;
  CHECK(run_command({SLUICE_BIN, "--version"}, &output) == 0);
  CHECK(output.rfind("sluice ", 0) == 0);
  CHECK(run_command({SLUICE_BIN, "--help"}, &output) == 0);
  CHECK(output.find("check-config") != std::string::npos);
  CHECK(run_command({SLUICE_BIN, "frobnicate"}, &output) == 2);
}
