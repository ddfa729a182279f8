// Inbound sluice-* headers renamed on intake, and the header lists derived from a record for
// the records sluice produces.

#include <catch2/catch.hpp>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/record_headers.h"

using namespace sluice::engine;
using sluice::kafka::HeadersPtr;
using sluice::kafka::Message;

namespace {

using Header = std::pair<std::string, std::optional<std::string>>;  // nullopt: a null value
using Headers = std::vector<Header>;

Headers read(const rd_kafka_headers_t* headers) {
  Headers out;
  const char* name = nullptr;
  const void* value = nullptr;
  size_t size = 0;
  for (size_t i = 0; headers != nullptr &&
                     rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
       ++i) {
    out.emplace_back(name, value != nullptr ? std::optional<std::string>(std::string(static_cast<const char*>(value), size))
                                            : std::nullopt);
  }
  return out;
}

Message built(std::vector<std::pair<std::string, std::string>> headers) {
  Message::Fields fields;
  fields.topic = "inbound.email";
  fields.partition = 1;
  fields.offset = 42;
  fields.key = "id-42";
  fields.value = "{}";
  fields.headers = std::move(headers);
  return Message::build(std::move(fields));
}

// A record as a consumer hands it out (headers still in librdkafka's fetch buffer, parsed on
// first use): produced to an in-process mock cluster and consumed back.
class ConsumedRecord {
 public:
  explicit ConsumedRecord(const std::vector<std::pair<std::string, std::string>>& headers) {
    char error[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    REQUIRE(rd_kafka_conf_set(conf, "test.mock.num.brokers", "1", error, sizeof error) == RD_KAFKA_CONF_OK);
    REQUIRE(rd_kafka_conf_set(conf, "log_level", "0", error, sizeof error) == RD_KAFKA_CONF_OK);
    producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
    REQUIRE(producer_ != nullptr);
    rd_kafka_mock_cluster_t* cluster = rd_kafka_handle_mock_cluster(producer_);
    REQUIRE(cluster != nullptr);
    REQUIRE(rd_kafka_mock_topic_create(cluster, "inbound.email", 1, 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_headers_t* list = rd_kafka_headers_new(headers.size());
    for (const auto& [name, value] : headers) {
      rd_kafka_header_add(list, name.data(), static_cast<ssize_t>(name.size()), value.data(),
                          static_cast<ssize_t>(value.size()));
    }
    REQUIRE(rd_kafka_producev(producer_, RD_KAFKA_V_TOPIC("inbound.email"), RD_KAFKA_V_PARTITION(0),
                              RD_KAFKA_V_VALUE(const_cast<char*>("{}"), 2), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_HEADERS(list), RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR_NO_ERROR);
    REQUIRE(rd_kafka_flush(producer_, 10'000) == RD_KAFKA_RESP_ERR_NO_ERROR);

    conf = rd_kafka_conf_new();
    REQUIRE(rd_kafka_conf_set(conf, "bootstrap.servers", rd_kafka_mock_cluster_bootstraps(cluster), error,
                              sizeof error) == RD_KAFKA_CONF_OK);
    REQUIRE(rd_kafka_conf_set(conf, "group.id", "record-headers-test", error, sizeof error) == RD_KAFKA_CONF_OK);
    REQUIRE(rd_kafka_conf_set(conf, "enable.auto.commit", "false", error, sizeof error) == RD_KAFKA_CONF_OK);
    REQUIRE(rd_kafka_conf_set(conf, "log_level", "0", error, sizeof error) == RD_KAFKA_CONF_OK);
    consumer_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof error);
    REQUIRE(consumer_ != nullptr);
    rd_kafka_poll_set_consumer(consumer_);
    rd_kafka_topic_partition_list_t* assignment = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(assignment, "inbound.email", 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    REQUIRE(rd_kafka_assign(consumer_, assignment) == RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(assignment);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!message && std::chrono::steady_clock::now() < deadline) {
      rd_kafka_message_t* consumed = rd_kafka_consumer_poll(consumer_, 100);
      if (consumed == nullptr) continue;
      if (consumed->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_message_destroy(consumed);
        continue;
      }
      message = Message(consumed);
    }
    REQUIRE(message);
  }
  ~ConsumedRecord() {
    message.reset();  // before the consumer, whose destruction waits for its messages
    if (consumer_ != nullptr) {
      rd_kafka_consumer_close(consumer_);
      rd_kafka_destroy(consumer_);
    }
    if (producer_ != nullptr) rd_kafka_destroy(producer_);
  }
  ConsumedRecord(const ConsumedRecord&) = delete;
  ConsumedRecord& operator=(const ConsumedRecord&) = delete;

  Message message;

 private:
  rd_kafka_t* producer_ = nullptr;
  rd_kafka_t* consumer_ = nullptr;
};

}  // namespace

TEST_CASE("record headers: inbound sluice-* headers become upstream-sluice-*, values and order kept",
          "[engine][headers]") {
  Message message = built({{"traceparent", "00-abc"},
                           {"sluice-source", "other/0/1"},
                           {"sluice-replay-count", "2"},
                           {"sluice-retry-due", "9999999999999"},
                           {"x-empty", ""},
                           {"sluice-original-topic", "forged"}});
  CHECK(rename_inbound_headers(message));
  const Headers expected = {{"traceparent", "00-abc"},
                            {"upstream-sluice-source", "other/0/1"},
                            {"sluice-replay-count", "2"},  // only counts replays: kept
                            {"upstream-sluice-retry-due", "9999999999999"},
                            {"x-empty", ""},
                            {"upstream-sluice-original-topic", "forged"}};
  CHECK(read(message.headers()) == expected);
  // Nothing sluice reads later finds them under its own names.
  CHECK_FALSE(message.last_header(header::kRetryDue));
  CHECK_FALSE(message.last_header(header::kOriginalTopic));
}

TEST_CASE("record headers: a header with a null value keeps it when renamed", "[engine][headers]") {
  Message message = built({});
  HeadersPtr list(rd_kafka_headers_new(2));
  rd_kafka_header_add(list.get(), "sluice-error", -1, nullptr, 0);
  rd_kafka_header_add(list.get(), "other", -1, nullptr, 0);
  message.set_headers(std::move(list));
  CHECK(rename_inbound_headers(message));
  CHECK(read(message.headers()) == Headers{{"upstream-sluice-error", std::nullopt}, {"other", std::nullopt}});
}

TEST_CASE("record headers: nothing is renamed without a foreign sluice-* header", "[engine][headers]") {
  SECTION("no headers at all") {
    Message message = built({});
    CHECK_FALSE(rename_inbound_headers(message));
    CHECK(message.headers() == nullptr);
  }
  SECTION("other headers and sluice-replay-count only") {
    Message message = built({{"traceparent", "00-abc"}, {"sluice-replay-count", "1"}, {"sluicey", "x"}});
    const rd_kafka_headers_t* before = message.headers();
    CHECK_FALSE(rename_inbound_headers(message));
    CHECK(message.headers() == before);  // the same list, untouched
    CHECK(read(message.headers()) == Headers{{"traceparent", "00-abc"}, {"sluice-replay-count", "1"}, {"sluicey", "x"}});
  }
}

TEST_CASE("record headers: an output's headers are derived from the record's own each time", "[engine][headers]") {
  // A retried output derives its headers again; the first derivation must not have taken
  // them away from the record, for a built record and for a replaced (renamed) list alike.
  SECTION("as built") {
    Message message = built({{"traceparent", "00-abc"}, {"sluice-error", "old"}});
    for (int attempt = 0; attempt < 2; ++attempt) {
      HeadersPtr derived = derive_headers(message, {{header::kFingerprint, "ab12"}}, {header::kError});
      CHECK(read(derived.get()) == Headers{{"traceparent", "00-abc"}, {"sluice-fingerprint", "ab12"}});
    }
    CHECK(read(message.headers()) == Headers{{"traceparent", "00-abc"}, {"sluice-error", "old"}});
  }
  SECTION("renamed on intake") {
    Message message = built({{"traceparent", "00-abc"}, {"sluice-retry-due", "1"}, {"sluice-source", "up/0/9"}});
    REQUIRE(rename_inbound_headers(message));
    const Headers renamed = {{"traceparent", "00-abc"}, {"upstream-sluice-retry-due", "1"}, {"upstream-sluice-source", "up/0/9"}};
    for (int attempt = 0; attempt < 2; ++attempt) {
      HeadersPtr derived = derive_headers(message, {{header::kSource, "inbound.email/1/42"}}, {header::kError});
      Headers expected = renamed;
      expected.emplace_back("sluice-source", "inbound.email/1/42");
      CHECK(read(derived.get()) == expected);
    }
    CHECK(read(message.headers()) == renamed);
  }
  SECTION("as consumed") {
    // A consumed record's list is taken for the first output; a second one must find the
    // same headers again.
    ConsumedRecord consumed({{"traceparent", "00-abc"}, {"app", "1"}});
    for (int attempt = 0; attempt < 2; ++attempt) {
      HeadersPtr derived = derive_headers(consumed.message, {{header::kFingerprint, "ab12"}}, {header::kError});
      CHECK(read(derived.get()) == Headers{{"traceparent", "00-abc"}, {"app", "1"}, {"sluice-fingerprint", "ab12"}});
    }
  }
  SECTION("consumed, then renamed on intake") {
    // The renamed list replaced the record's own; taking it for an output must not bring the
    // original (forged) sluice-* headers back for the next.
    ConsumedRecord consumed({{"traceparent", "00-abc"}, {"sluice-retry-due", "1"}, {"sluice-original-topic", "x"}});
    REQUIRE(rename_inbound_headers(consumed.message));
    const Headers renamed = {
        {"traceparent", "00-abc"}, {"upstream-sluice-retry-due", "1"}, {"upstream-sluice-original-topic", "x"}};
    for (int attempt = 0; attempt < 2; ++attempt) {
      HeadersPtr derived = derive_headers(consumed.message, {{header::kSource, "inbound.email/0/0"}}, {header::kError});
      Headers expected = renamed;
      expected.emplace_back("sluice-source", "inbound.email/0/0");
      CHECK(read(derived.get()) == expected);
      CHECK_FALSE(consumed.message.last_header(header::kRetryDue));
    }
    CHECK(read(consumed.message.headers()) == renamed);
  }
  SECTION("no headers") {
    Message message = built({});
    for (int attempt = 0; attempt < 2; ++attempt) {
      HeadersPtr derived = derive_headers(message, {{header::kError, "boom"}});
      CHECK(read(derived.get()) == Headers{{"sluice-error", "boom"}});
    }
  }
}

TEST_CASE("record headers: a derived header replaces every earlier one of its name", "[engine][headers]") {
  Message message = built({{"sluice-retry-count", "1"}, {"a", "1"}, {"sluice-retry-count", "2"}, {"sluice-source", "s"}});
  HeadersPtr derived = derive_headers(message, {{header::kRetryCount, "3"}}, {header::kSource, header::kError});
  CHECK(read(derived.get()) == Headers{{"a", "1"}, {"sluice-retry-count", "3"}});
}

TEST_CASE("record headers: a forwarded record carries its fingerprint and source but no error", "[engine][headers]") {
  auto partition = std::make_shared<PartitionState>("retry.10s", 2);
  partition->retry_tier = 0;
  InFlightRecord record;
  record.partition = partition;
  record.offset = 9001;
  record.fingerprint.bytes.fill(0xab);
  Message::Fields fields;
  fields.topic = "retry.10s";
  fields.partition = 2;
  fields.offset = 9001;
  fields.value = "{}";
  fields.headers = {{"sluice-retry-count", "1"},
                    {"sluice-error", "transient_error"},
                    {"sluice-error-stage", "forward"},
                    {"sluice-fingerprint", "stale"},
                    {"app", "x"}};
  record.message = Message::build(std::move(fields));
  std::string hex;
  for (int i = 0; i < 32; ++i) hex += "ab";
  ForwardHeaders builder;
  for (int attempt = 0; attempt < 2; ++attempt) {
    HeadersPtr headers = builder.build(record);
    CHECK(read(headers.get()) == Headers{{"sluice-retry-count", "1"},
                                         {"app", "x"},
                                         {"sluice-fingerprint", hex},
                                         {"sluice-source", "retry.10s/2/9001"}});
  }
}
