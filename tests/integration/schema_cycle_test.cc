// A message schema whose `$ref` loops back on itself: check-config and start-up refuse it,
// naming the file, and a running daemon that meets one on SIGHUP keeps the schemas it has.

#include <catch2/catch.hpp>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "devtools/kafka_tools.h"
#include "devtools/message_mix.h"
#include "support/dev_broker.h"
#include "support/process.h"
#include "support/sluice_daemon.h"
#include "support/temp_dir.h"
#include "support/wait.h"

using namespace sluice::test;
using namespace sluice::devtools;
using namespace std::chrono_literals;

namespace {

const std::string kReferenceLoop = R"({"$ref": "#"})";
const std::string kLoopError =
    "email_received.json: /$ref: reference loop that never descends into a property or an item";

// `dir`/schemas with copies of the shipped schemas; returns its path.
std::string copy_shipped_schemas(const TempDir& dir) {
  std::string schemas = dir.file("schemas");
  std::filesystem::create_directories(schemas);
  for (const char* name : {"email_received.json", "whatsapp_received.json"}) {
    std::filesystem::copy_file(std::string(SLUICE_SOURCE_DIR) + "/config/schemas/" + name, schemas + "/" + name);
  }
  return schemas;
}

// Runs `sluice <command> --config <config_path>`; returns the exit status, with stdout and
// stderr in `output`.
int run_sluice(const std::string& command, const std::string& config_path, std::string& output) {
  return run_command({"/bin/sh", "-c", std::string(SLUICE_BIN) + " " + command + " --config " + config_path + " 2>&1"},
                     &output);
}

void send(const std::string& bootstrap, const std::string& key, const std::string& value) {
  RecordProducer producer(bootstrap);
  KafkaRecord record;
  record.topic = "inbound.email";
  record.key = key;
  record.value = value;
  producer.produce(record);
  producer.flush();
}

}  // namespace

TEST_CASE("check-config and start-up refuse a schema whose $ref loops, naming the file", "[integration][cli][schema]") {
  TempDir dir;
  std::string schemas = copy_shipped_schemas(dir);
  write_file(schemas + "/email_received.json", kReferenceLoop);
  TestConfig config;
  config.bootstrap = "127.0.0.1:9";  // never contacted: loading the schemas comes first
  config.schemas_dir = schemas;
  std::string config_path = dir.file("sluice.yaml");
  write_file(config_path, render_config(config, dir.path()));

  std::string output;
  int status = run_sluice("check-config", config_path, output);
  INFO(output);
  CHECK(status == 2);
  CHECK(output.find(schemas + "/" + kLoopError + ": # -> #\n") != std::string::npos);

  status = run_sluice("run", config_path, output);
  INFO(output);
  CHECK(status == 2);
  // run loads the config exactly as check-config does, and says the same.
  CHECK(output.find(schemas + "/" + kLoopError + ": # -> #\n") != std::string::npos);
}

TEST_CASE("a $ref loop met on SIGHUP keeps the old schemas validating and counts a failed reload",
          "[integration][operations][reload][schema]") {
  DevBroker broker(
      {{"inbound.email", 1}, {"inbound.whatsapp", 1}, {"clean.email", 1}, {"clean.whatsapp", 1}, {"dlq", 1}});
  TempDir dir;
  TestConfig config;
  config.bootstrap = broker.bootstrap();
  config.group_id = "schema-cycle-reload";
  config.schemas_dir = copy_shipped_schemas(dir);
  SluiceDaemon daemon(config, dir);
  daemon.start();
  const std::string& bootstrap = broker.bootstrap();
  auto keys_in = [&](const std::string& topic) {
    std::set<std::string> keys;
    for (const KafkaRecord& record : read_topic(bootstrap, topic)) keys.insert(*record.key);
    return keys;
  };
  send(bootstrap, "before", email_event("alice@example.com", "hello", "c-1"));
  REQUIRE(wait_until([&] { return keys_in("clean.email").count("before") == 1; }, 60s, 100ms));

  write_file(config.schemas_dir + "/email_received.json", kReferenceLoop);
  daemon.reload();
  const std::string failed = "reload failed; keeping the current set";
  REQUIRE(wait_until([&] { return !daemon.running() || daemon.logs().find(failed) != std::string::npos; }, 30s, 50ms));
  INFO(daemon.logs());
  if (!daemon.running()) FAIL("the daemon died on the reload, exit status " << daemon.stop());
  CHECK(daemon.logs().find(kLoopError) != std::string::npos);

  // The old email schema still decides: a valid event goes through, one without a subject
  // (which `{"$ref": "#"}` would let pass) goes to the DLQ.
  send(bootstrap, "still-valid", email_event("bob@example.com", "old schema applies", "c-2"));
  send(bootstrap, "still-checked",
       R"({"channel":"email","message_type":"email_received","payload":{"from_email":"carol@example.com",)"
       R"("to_email":"dave@example.org","body":"no subject","timestamp":"2024-09-18T14:32:05Z"}})");
  REQUIRE(wait_until([&] { return keys_in("clean.email").count("still-valid") == 1; }, 30s, 100ms));
  std::string dlq_reason;
  REQUIRE(wait_until(
      [&] {
        for (const KafkaRecord& record : read_topic(bootstrap, "dlq")) {
          if (record.key == "still-checked") dlq_reason = record.header("sluice-error").value_or("?");
        }
        return !dlq_reason.empty();
      },
      30s, 100ms));
  CHECK(dlq_reason == "schema_violation");

  REQUIRE(daemon.stop() == 0);
  CHECK(final_counter(daemon.logs(), "sluice_config_reloads_total{result=\"failed\"}") == 1);
  CHECK(final_counter(daemon.logs(), "sluice_config_reloads_total{result=\"ok\"}") == -1);
}
