// A batch's request (body in each format, Idempotency-Key, X-Sluice-Sources and
// X-Sluice-Fingerprints) and how a refused batch is split into parts sent one after another.

#include <catch2/catch.hpp>

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "engine/http_batch.h"
#include "fingerprint/fingerprint.h"
#include "kafka/message.h"

using namespace sluice::engine;

namespace {

struct Records {
  std::shared_ptr<PartitionState> partition = std::make_shared<PartitionState>("inbound.email", 3);
  std::deque<InFlightRecord> storage;

  InFlightRecord* make(int64_t offset, std::string value) {
    InFlightRecord& record = storage.emplace_back();
    record.partition = partition;
    record.offset = offset;
    record.fingerprint.bytes.fill(static_cast<unsigned char>(offset));
    sluice::kafka::Message::Fields fields;
    fields.topic = "inbound.email";
    fields.partition = 3;
    fields.offset = offset;
    fields.value = std::move(value);
    record.message = sluice::kafka::Message::build(std::move(fields));
    return &record;
  }
  BatchRecords many(int count) {
    BatchRecords out;
    for (int i = 0; i < count; ++i) out.push_back(make(i, "{\"n\":" + std::to_string(i) + "}"));
    return out;
  }
};

std::vector<int64_t> offsets(const BatchRecords& records) {
  std::vector<int64_t> out;
  for (const InFlightRecord* record : records) out.push_back(record->offset);
  return out;
}

}  // namespace

TEST_CASE("http batch: the body is a JSON array or one value per line", "[engine][batch]") {
  Records r;
  BatchRecords records{r.make(7, "{\"a\":1}"), r.make(8, "{\n  \"b\": \"x\\ny\"\r\n}")};
  CHECK(batch_body(records, BatchFormat::Array) == "[{\"a\":1},{\n  \"b\": \"x\\ny\"\r\n}]");
  // A line break between tokens becomes a space; the escaped one inside the string stays.
  CHECK(batch_body(records, BatchFormat::Ndjson) == "{\"a\":1}\n{   \"b\": \"x\\ny\"  }\n");
  CHECK(batch_content_type(BatchFormat::Array) == "application/json");
  CHECK(batch_content_type(BatchFormat::Ndjson) == "application/x-ndjson");
}

TEST_CASE("http batch: the headers list each record's source and fingerprint, in order", "[engine][batch]") {
  Records r;
  BatchRecords records = r.many(2);
  CHECK(batch_sources(records) == "inbound.email/3/0,inbound.email/3/1");
  std::string zeros;
  std::string ones;
  for (int i = 0; i < 32; ++i) {
    zeros += "00";
    ones += "01";
  }
  CHECK(batch_fingerprints(records) == zeros + "," + ones);
}

TEST_CASE("http batch: the Idempotency-Key is a digest of the fingerprints in order", "[engine][batch]") {
  Records r;
  BatchRecords records = r.many(3);
  std::string concatenated;
  for (const InFlightRecord* record : records) {
    concatenated.append(reinterpret_cast<const char*>(record->fingerprint.bytes.data()), 32);
  }
  const std::string key = batch_idempotency_key(records);
  CHECK(key == sluice::fingerprint::sha256_hex(concatenated));
  CHECK(key.size() == 64);
  // The same records sent again carry the same key; other records, or another order, do not.
  CHECK(batch_idempotency_key(records) == key);
  BatchRecords reordered{records[1], records[0], records[2]};
  CHECK(batch_idempotency_key(reordered) != key);
  CHECK(batch_idempotency_key(BatchRecords{records[0], records[1]}) != key);
}

TEST_CASE("http batch: a refused batch splits in halves, sent one part after another", "[engine][batch]") {
  Records r;
  Batch batch;
  batch.records = r.many(5);
  REQUIRE(batch.bisect());
  CHECK(offsets(batch.records) == std::vector<int64_t>{0, 1});
  REQUIRE(batch.rest.size() == 1);
  CHECK(offsets(batch.rest[0]) == std::vector<int64_t>{2, 3, 4});
  REQUIRE(batch.bisect());
  CHECK(offsets(batch.records) == std::vector<int64_t>{0});
  REQUIRE(batch.rest.size() == 2);
  CHECK(offsets(batch.rest[0]) == std::vector<int64_t>{1});
  // A single record is refused for itself: nothing to split.
  CHECK_FALSE(batch.bisect());

  Batch next = batch.next_part();
  CHECK(offsets(next.records) == std::vector<int64_t>{1});
  REQUIRE(next.rest.size() == 1);
  CHECK(offsets(next.rest[0]) == std::vector<int64_t>{2, 3, 4});
  CHECK(batch.rest.empty());
  Batch last = next.next_part();
  CHECK(offsets(last.records) == std::vector<int64_t>{2, 3, 4});
  CHECK(last.next_part().records.empty());
}
