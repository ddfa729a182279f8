// The core promise against a real Kafka protocol peer: every inbound record ends up exactly
// where it belongs, with its bytes, key and headers intact, and the committed offsets reach
// the end of every inbound partition once the daemon has drained.

#include <catch2/catch.hpp>

#include <map>
#include <set>

#include <rapidjson/document.h>

#include "common/text.h"
#include "support/dev_broker.h"
#include "devtools/kafka_tools.h"
#include "devtools/message_mix.h"
#include "support/sluice_daemon.h"
#include "support/wait.h"

using namespace sluice::test;
using namespace sluice::devtools;
using namespace std::chrono_literals;

namespace {

const std::vector<TopicSpec> kTopics = {{"inbound.email", 3}, {"inbound.whatsapp", 2}, {"clean.email", 2},
                                        {"clean.whatsapp", 2}, {"dlq", 1},             {"rejected", 1}};

std::map<std::string, const MixRecord*> by_key(const std::vector<MixRecord>& mix) {
  std::map<std::string, const MixRecord*> index;
  for (const MixRecord& entry : mix) index[*entry.record.key] = &entry;
  return index;
}

size_t expected_terminal_records(const std::vector<MixRecord>& mix, bool rejected_topic) {
  // Every record that produces something: one per content group forwarded, every DLQ record,
  // and filtered ones when they go to the rejected topic.
  std::set<std::string> groups;
  size_t count = 0;
  for (const MixRecord& entry : mix) {
    if (entry.expected == Expected::Forwarded || entry.expected == Expected::Duplicate) {
      groups.insert(entry.content_group);
    } else if (entry.expected == Expected::DeadLetter || (rejected_topic && entry.expected == Expected::Filtered)) {
      ++count;
    }
  }
  return count + groups.size();
}

size_t total_records(const std::string& bootstrap, const std::vector<std::string>& topics) {
  size_t total = 0;
  for (const std::string& topic : topics) {
    for (const auto& [partition, end] : end_offsets(bootstrap, topic, topic == "dlq" || topic == "rejected" ? 1 : 2)) {
      total += static_cast<size_t>(end);
    }
  }
  return total;
}

void produce_all(const std::string& bootstrap, const std::vector<MixRecord>& mix) {
  RecordProducer producer(bootstrap);
  for (const MixRecord& entry : mix) producer.produce(entry.record);
  producer.flush();
}

void check_headers_kept(const KafkaRecord& out, const MixRecord& in) {
  for (const auto& [name, value] : in.record.headers) {
    INFO("header " << name << " of " << *in.record.key);
    CHECK(out.header(name) == value);
  }
}

void check_outcomes(const std::string& bootstrap, const std::vector<MixRecord>& mix, bool rejected_topic) {
  auto index = by_key(mix);
  std::map<std::string, int> forwarded_per_group;
  for (const std::string topic : {"clean.email", "clean.whatsapp"}) {
    for (const KafkaRecord& out : read_topic(bootstrap, topic)) {
      REQUIRE(out.key);
      const MixRecord* in = index.at(*out.key);
      INFO("forwarded " << *out.key);
      CHECK((in->expected == Expected::Forwarded || in->expected == Expected::Duplicate));
      CHECK(in->downstream_topic == topic);
      CHECK(out.value == in->record.value);  // byte for byte
      check_headers_kept(out, *in);
      CHECK(out.header("sluice-fingerprint").value_or("").size() == 64);
      CHECK(out.header("sluice-source").value_or("").rfind(in->record.topic + "/", 0) == 0);
      forwarded_per_group[in->content_group] += 1;
    }
  }
  std::set<std::string> groups;
  for (const MixRecord& entry : mix) {
    if (entry.expected == Expected::Forwarded || entry.expected == Expected::Duplicate) groups.insert(entry.content_group);
  }
  for (const std::string& group : groups) {
    INFO("content group " << group);
    CHECK(forwarded_per_group[group] == 1);  // every distinct message once, duplicates nowhere
  }

  std::set<std::string> dead_lettered;
  for (const KafkaRecord& out : read_topic(bootstrap, "dlq")) {
    REQUIRE(out.key);
    const MixRecord* in = index.at(*out.key);
    INFO("dead-lettered " << *out.key << " " << out.value.value_or(""));
    CHECK(in->expected == Expected::DeadLetter);
    CHECK(out.header("sluice-error") == in->reason);
    CHECK(out.header("sluice-error-stage"));
    check_headers_kept(out, *in);
    const std::string& envelope = *out.value;
    CHECK(envelope.find("\"error\":\"" + in->reason + "\"") != std::string::npos);
    CHECK(envelope.find("\"original_topic\":\"" + in->record.topic + "\"") != std::string::npos);
    CHECK(envelope.find("\"original_key\":\"" + *in->record.key + "\"") != std::string::npos);
    // The original value comes back byte for byte, as a JSON string or as base64.
    rapidjson::Document parsed;
    parsed.Parse(envelope.data(), envelope.size());
    REQUIRE_FALSE(parsed.HasParseError());
    std::string original;
    if (parsed.HasMember("original_message") && parsed["original_message"].IsString()) {
      original.assign(parsed["original_message"].GetString(), parsed["original_message"].GetStringLength());
    } else {
      REQUIRE(parsed.HasMember("original_message_base64"));
      original = sluice::text::base64_decode(parsed["original_message_base64"].GetString()).value();
    }
    CHECK(original == *in->record.value);
    dead_lettered.insert(*out.key);
  }
  std::set<std::string> rejected;
  for (const KafkaRecord& out : read_topic(bootstrap, "rejected")) {
    const MixRecord* in = index.at(*out.key);
    CHECK(in->expected == Expected::Filtered);
    CHECK(out.header("sluice-filter-reason") == in->reason);
    CHECK(out.value == in->record.value);
    rejected.insert(*out.key);
  }
  for (const MixRecord& entry : mix) {
    INFO("record " << *entry.record.key);
    if (entry.expected == Expected::DeadLetter) CHECK(dead_lettered.count(*entry.record.key) == 1);
    if (entry.expected == Expected::Filtered) CHECK(rejected.count(*entry.record.key) == (rejected_topic ? 1u : 0u));
  }
}

}  // namespace

TEST_CASE("the realistic mix lands exactly where it belongs and offsets reach the end", "[integration][pipeline]") {
  DevBroker broker(kTopics);
  TempDir dir;
  MixOptions options;
  options.count = 600;
  std::vector<MixRecord> mix = make_mix(options);
  produce_all(broker.bootstrap(), mix);

  TestConfig config;
  config.bootstrap = broker.bootstrap();
  config.group_id = "pipeline-mix";
  SluiceDaemon daemon(config, dir);
  daemon.start();

  size_t expected_outputs = expected_terminal_records(mix, false);
  bool settled = wait_until(
      [&] { return total_records(broker.bootstrap(), {"clean.email", "clean.whatsapp", "dlq"}) >= expected_outputs; },
      60s, 200ms);
  INFO(daemon.logs());
  REQUIRE(settled);
  REQUIRE(daemon.stop() == 0);
  check_outcomes(broker.bootstrap(), mix, false);
  CHECK(total_records(broker.bootstrap(), {"clean.email", "clean.whatsapp", "dlq"}) == expected_outputs);
  // With default settings no message body reaches the logs.
  const std::string logs = daemon.logs();
  for (const char* body_text : {"Where is my order", "Please update my address", "Invoice", "Return request",
                                "Click here for FREE MONEY", "shared content"}) {
    INFO(body_text);
    CHECK(logs.find(body_text) == std::string::npos);
  }

  // Drained: the committed position of every inbound partition is its end.
  for (const auto& [topic, partitions] : std::vector<std::pair<std::string, int>>{{"inbound.email", 3}, {"inbound.whatsapp", 2}}) {
    auto committed = committed_offsets(broker.bootstrap(), config.group_id, topic, partitions);
    auto ends = end_offsets(broker.bootstrap(), topic, partitions);
    for (const auto& [partition, end] : ends) {
      INFO(topic << "/" << partition);
      if (end > 0) CHECK(committed[partition] == end);
    }
  }
}

TEST_CASE("filtered records go to rejected_topic with their reason when it is set", "[integration][pipeline]") {
  DevBroker broker(kTopics);
  TempDir dir;
  MixOptions options;
  options.count = 200;
  options.seed = 7;
  std::vector<MixRecord> mix = make_mix(options);
  produce_all(broker.bootstrap(), mix);

  TestConfig config;
  config.bootstrap = broker.bootstrap();
  config.group_id = "pipeline-rejected";
  config.rejected_topic = "rejected";
  // The other tests run the stages on their own thread (the default); this one inline.
  config.stage_thread = false;
  SluiceDaemon daemon(config, dir);
  daemon.start();
  size_t expected_outputs = expected_terminal_records(mix, true);
  bool settled = wait_until(
      [&] {
        return total_records(broker.bootstrap(), {"clean.email", "clean.whatsapp", "dlq", "rejected"}) >= expected_outputs;
      },
      60s, 200ms);
  INFO(daemon.logs());
  REQUIRE(settled);
  REQUIRE(daemon.stop() == 0);
  check_outcomes(broker.bootstrap(), mix, true);
}
