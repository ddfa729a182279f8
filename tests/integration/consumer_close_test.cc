// The consumer sluice reads through, against a real broker: leaving the group on stop while
// fetched records it never read are still queued.

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include "devtools/kafka_tools.h"
#include "kafka/consumer.h"
#include "support/dev_broker.h"
#include "support/wait.h"

using namespace sluice;
using namespace std::chrono_literals;

namespace {

class RecordingListener final : public kafka::ConsumerListener {
 public:
  void on_assigned(const std::vector<kafka::TopicPartition>& partitions) override { assigned += partitions.size(); }
  void on_revoked(const std::vector<kafka::TopicPartition>& partitions, bool) override { revoked += partitions.size(); }
  void on_commit_result(rd_kafka_resp_err_t, const std::vector<kafka::PartitionOffset>&) override {}
  void on_client_error(rd_kafka_resp_err_t, const std::string&, bool) override {}

  size_t assigned = 0;
  size_t revoked = 0;
};

}  // namespace

TEST_CASE("consumer: closing with fetched records still queued leaves the group and drops them unread",
          "[integration][kafka]") {
  test::DevBroker broker({{"in", 1}});
  {
    devtools::RecordProducer producer(broker.bootstrap());
    for (int i = 0; i < 200; ++i) {
      devtools::KafkaRecord record;
      record.topic = "in";
      record.value = "record " + std::to_string(i);
      producer.produce(record);
    }
    producer.flush();
  }

  std::vector<std::string> errors;
  std::unique_ptr<kafka::KafkaConsumer> consumer = kafka::KafkaConsumer::create(
      {{"bootstrap.servers", broker.bootstrap()},
       {"group.id", "close-test"},
       {"auto.offset.reset", "earliest"},
       {"enable.auto.commit", "false"},
       {"enable.auto.offset.store", "false"},
       {"session.timeout.ms", "6000"}},
      errors);
  REQUIRE(errors.empty());
  RecordingListener listener;
  consumer->set_listener(&listener);
  REQUIRE(consumer->subscribe({"in"}) == RD_KAFKA_RESP_ERR_NO_ERROR);

  // One record read: the fetch that brought it queued the others behind it, unread.
  std::vector<kafka::Message> read;
  REQUIRE(test::wait_until([&] { return consumer->poll_batch(read, 1) == 1; }, 30s));
  CHECK(listener.assigned == 1);
  REQUIRE(test::wait_until([&] {
    std::optional<kafka::Watermarks> marks = consumer->cached_watermarks({"in", 0});
    return marks && marks->high == 200;
  }, 10s));
  read.clear();

  // Closing serves the queue for the revocation; the queued records come out of it too and
  // must be dropped, not handed to a callback (librdkafka aborts on an op nothing handles).
  CHECK(consumer->close(10s) == RD_KAFKA_RESP_ERR_NO_ERROR);
  CHECK(listener.revoked == 1);
}
