// The producer sluice sends everything through, against a real broker: records reach the
// topics they name, also past the number of topics it keeps handles for.

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include "devtools/kafka_tools.h"
#include "kafka/producer.h"
#include "support/dev_broker.h"
#include "support/wait.h"

using namespace sluice;
using namespace std::chrono_literals;

TEST_CASE("every record reaches the topic it names, past the topics the producer keeps handles for",
          "[integration][kafka]") {
  // More topics than the producer keeps handles for (16), so both ways of naming one are used.
  constexpr int kTopics = 20;
  std::vector<test::TopicSpec> specs;
  for (int i = 0; i < kTopics; ++i) specs.push_back({"out." + std::to_string(i), 1});
  test::DevBroker broker(specs);

  int delivered = 0;
  std::vector<std::string> failures;
  std::vector<std::string> errors;
  std::unique_ptr<kafka::Producer> producer = kafka::Producer::create(
      {{"bootstrap.servers", broker.bootstrap()}, {"linger.ms", "0"}},
      [&](void*, rd_kafka_resp_err_t error) {
        if (error == RD_KAFKA_RESP_ERR_NO_ERROR) {
          ++delivered;
        } else {
          failures.push_back(rd_kafka_err2name(error));
        }
      },
      [](rd_kafka_resp_err_t, const std::string&, bool) {}, errors);
  REQUIRE(errors.empty());

  // Each topic twice, interleaved, so handles are looked up again after all were created.
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < kTopics; ++i) {
      const std::string topic = "out." + std::to_string(i);
      const std::string value = topic + "#" + std::to_string(round);
      kafka::OutboundRecord record;
      record.topic = topic;
      record.value = value;
      REQUIRE(producer->produce(record) == RD_KAFKA_RESP_ERR_NO_ERROR);
    }
  }
  REQUIRE(test::wait_until(
      [&] {
        producer->poll(10ms);
        return delivered + static_cast<int>(failures.size()) == 2 * kTopics;
      },
      30s));
  REQUIRE(failures.empty());

  for (int i = 0; i < kTopics; ++i) {
    const std::string topic = "out." + std::to_string(i);
    std::vector<devtools::KafkaRecord> records = devtools::read_topic(broker.bootstrap(), topic);
    REQUIRE(records.size() == 2);
    CHECK(records[0].value == topic + "#0");
    CHECK(records[1].value == topic + "#1");
  }
}
