// pipeline.value_framing: confluent end to end: Confluent-framed JSON records are checked on
// their JSON and forwarded byte for byte, header included; their fingerprint is their JSON's
// (the schema id plays no part: the same JSON under another id is a duplicate); an unframed
// record is dead-lettered as invalid_framing, and a framed one with bad JSON keeps its header
// in the DLQ envelope.

#include <catch2/catch.hpp>

#include <rapidjson/document.h>

#include "devtools/kafka_tools.h"
#include "support/dev_broker.h"
#include "support/process.h"
#include "support/sluice_daemon.h"
#include "support/wait.h"

using namespace sluice::test;
using namespace sluice::devtools;
using namespace std::chrono_literals;

namespace {

std::string email(const std::string& body) {
  return R"({"channel":"email","message_type":"email_received","payload":{"from_email":"a@example.com",)"
         R"("to_email":"b@example.com","subject":"s","body":")" +
         body + R"(","timestamp":"2024-09-18T14:32:05Z"}})";
}

std::string framed(const std::string& json, uint32_t schema_id) {
  std::string value(1, '\0');
  for (int shift = 24; shift >= 0; shift -= 8) value.push_back(static_cast<char>((schema_id >> shift) & 0xff));
  return value + json;
}

// What `sluice fingerprint` prints for `json`: the fingerprint of the JSON unframed.
std::string unframed_fingerprint(const std::string& json) {
  std::string output;
  REQUIRE(run_command({SLUICE_BIN, "fingerprint"}, &output, 10s, json) == 0);
  while (!output.empty() && output.back() == '\n') output.pop_back();
  return output;
}

const KafkaRecord* with_key(const std::vector<KafkaRecord>& records, const std::string& key) {
  for (const KafkaRecord& record : records) {
    if (record.key == key) return &record;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("value_framing confluent: framed records pass with their header and their JSON's fingerprint; unframed "
          "ones are invalid_framing", "[integration][framing]") {
  DevBroker broker({{"inbound.email", 1}, {"inbound.whatsapp", 1}, {"clean.email", 1}, {"clean.whatsapp", 1},
                    {"dlq", 1}});
  const std::string first = email("first");
  const std::string second = email("second");
  const std::string bad_json = R"({"channel":"email",)";
  {
    RecordProducer producer(broker.bootstrap());
    auto send = [&](const std::string& key, const std::string& value) {
      KafkaRecord record;
      record.topic = "inbound.email";
      record.key = key;
      record.value = value;
      producer.produce(record);
    };
    send("framed-first", framed(first, 7));
    send("framed-first-again", framed(first, 0x0a0b0c0d));  // the same JSON under another schema id
    send("framed-second", framed(second, 7));
    send("plain", first);
    send("framed-bad-json", framed(bad_json, 9));
    producer.flush();
  }
  TempDir dir;
  TestConfig config;
  config.bootstrap = broker.bootstrap();
  config.group_id = "framing";
  config.extra_pipeline_yaml = "  value_framing: confluent\n";
  SluiceDaemon daemon(config, dir);
  daemon.start();
  std::vector<KafkaRecord> forwarded;
  std::vector<KafkaRecord> dead;
  bool answered = wait_until([&] {
    forwarded = read_topic(broker.bootstrap(), "clean.email");
    dead = read_topic(broker.bootstrap(), "dlq");
    return forwarded.size() >= 2 && dead.size() >= 2;
  }, 60s, 200ms);
  INFO(daemon.logs());
  REQUIRE(answered);
  CHECK(daemon.stop() == 0);
  forwarded = read_topic(broker.bootstrap(), "clean.email");
  REQUIRE(forwarded.size() == 2);  // the second copy of the first JSON is a duplicate

  const KafkaRecord* out_first = with_key(forwarded, "framed-first");
  const KafkaRecord* out_second = with_key(forwarded, "framed-second");
  REQUIRE(out_first != nullptr);
  REQUIRE(out_second != nullptr);
  CHECK(out_first->value == framed(first, 7));  // byte for byte, header included
  CHECK(out_second->value == framed(second, 7));
  CHECK(out_first->header("sluice-fingerprint") == unframed_fingerprint(first));
  CHECK(out_second->header("sluice-fingerprint") == unframed_fingerprint(second));

  const KafkaRecord* plain = with_key(dead, "plain");
  REQUIRE(plain != nullptr);
  CHECK(plain->header("sluice-error") == "invalid_framing");
  CHECK(plain->header("sluice-error-stage") == "parse");

  const KafkaRecord* bad = with_key(dead, "framed-bad-json");
  REQUIRE(bad != nullptr);
  CHECK(bad->header("sluice-error") == "invalid_json");
  rapidjson::Document envelope;
  envelope.Parse(bad->value->data(), bad->value->size());
  REQUIRE(!envelope.HasParseError());
  REQUIRE(envelope.HasMember("original_message"));
  const rapidjson::Value& original = envelope["original_message"];
  CHECK(std::string(original.GetString(), original.GetStringLength()) == framed(bad_json, 9));
}
