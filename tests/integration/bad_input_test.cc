// The daemon never crashes on data: a corpus of hostile values is consumed, every record is
// answered (DLQ with a reason, or forwarded when it is in fact valid), and the daemon still
// stops cleanly afterwards.

#include <catch2/catch.hpp>

#include <set>

#include "support/dev_broker.h"
#include "devtools/kafka_tools.h"
#include "devtools/message_mix.h"
#include "support/sluice_daemon.h"
#include "support/wait.h"

using namespace sluice::test;
using namespace sluice::devtools;
using namespace std::chrono_literals;

TEST_CASE("hostile values are dead-lettered with a reason and never crash the daemon", "[integration][bad_input]") {
  DevBroker broker({{"inbound.email", 2}, {"inbound.whatsapp", 1}, {"clean.email", 1}, {"clean.whatsapp", 1}, {"dlq", 1}});
  TempDir dir;
  struct Case {
    std::string name;
    std::optional<std::string> value;
    std::string reason;  // expected DLQ reason; empty: forwarded
  };
  std::vector<Case> cases = {
      {"deep-array", std::string(100000, '['), "invalid_json"},
      {"deep-object", [] {
         std::string text;
         for (int i = 0; i < 5000; ++i) text += "{\"a\":";
         return text + "1" + std::string(5000, '}');
       }(), "invalid_json"},
      {"deep-but-valid-depth", [] {
         std::string text = R"({"channel":"email","message_type":"email_received","x":)";
         for (int i = 0; i < 40; ++i) text += "[";
         return text + std::string(40, ']') + "}";
       }(), "schema_violation"},
      {"huge-number", R"({"channel":"email","message_type":"email_received","n":1e999999})", "schema_violation"},
      {"long-integer", R"({"channel":"email","message_type":"email_received","n":)" + std::string(5000, '9') + "}",
       "schema_violation"},
      {"invalid-utf8", std::string("{\"channel\":\"em\xc3\x28il\"}"), "invalid_json"},
      {"overlong-utf8", std::string("{\"a\":\"\xc0\xaf\"}"), "invalid_json"},
      {"lone-surrogate", R"({"a":"\ud800"})", "invalid_json"},
      {"bom", std::string("\xef\xbb\xbf{}"), "invalid_json"},
      {"nul-inside", std::string("{\"a\":\"x\0y\"}", 11), "invalid_json"},
      {"nul-after", std::string("{}\0", 3), "invalid_json"},
      {"empty", std::string(), "invalid_json"},
      {"tombstone", std::nullopt, "invalid_json"},
      {"top-level-string", "\"just a string\"", "invalid_json"},
      {"top-level-number", "42", "invalid_json"},
      {"two-mib", std::string(2 * 1024 * 1024, 'a'), "too_large"},
      {"two-mib-json", email_event("big@example.com", std::string(2 * 1024 * 1024, 'b'), "c"), "too_large"},
      {"message-type-not-string", R"({"channel":"email","message_type":42})", "unknown_message_type"},
      {"payload-not-object", R"({"channel":"email","message_type":"email_received","payload":[1,2]})", "schema_violation"},
      {"valid-with-control-chars", email_event("dora@example.com", "tab\\there \\u0000 nul escaped", "c-ctl"), ""},
  };
  {
    RecordProducer producer(broker.bootstrap());
    for (const Case& c : cases) {
      KafkaRecord record;
      record.topic = "inbound.email";
      record.key = c.name;
      record.value = c.value;
      producer.produce(record);
    }
    producer.flush();
  }
  TestConfig config;
  config.bootstrap = broker.bootstrap();
  config.group_id = "bad-input";
  SluiceDaemon daemon(config, dir);
  daemon.start();
  auto answered = [&] {
    return read_topic(broker.bootstrap(), "dlq").size() + read_topic(broker.bootstrap(), "clean.email").size();
  };
  bool all = wait_until([&] { return answered() >= cases.size(); }, 90s, 200ms);
  INFO(daemon.logs());
  REQUIRE(all);
  REQUIRE(daemon.running());
  REQUIRE(daemon.stop() == 0);

  std::map<std::string, std::string> dlq_reason;
  for (const KafkaRecord& record : read_topic(broker.bootstrap(), "dlq")) {
    dlq_reason[*record.key] = record.header("sluice-error").value_or("?");
  }
  std::set<std::string> forwarded;
  for (const KafkaRecord& record : read_topic(broker.bootstrap(), "clean.email")) forwarded.insert(*record.key);
  for (const Case& c : cases) {
    INFO(c.name);
    if (c.reason.empty()) {
      CHECK(forwarded.count(c.name) == 1);
    } else {
      CHECK(dlq_reason[c.name] == c.reason);
    }
  }
  CHECK(answered() == cases.size());
}
