// A batched destination: when a batch goes (full, or `linger` after its first record), what
// it takes (every consecutive record of a ready gate, in order; a gate shut until its batch
// is answered), the limits it keeps (one permit and one place per request, a token per
// record), and what an answer does: a success delivers all, a refusal splits the batch until
// the refused records are alone, a transient failure is each record's, an outage puts them
// back at the head of their gates in order.

#include <catch2/catch.hpp>

#include <vector>

#include "destination_helpers.h"

using namespace sluice::engine;
using namespace sluice::engine::testing;
using namespace std::chrono_literals;
using sluice::config::Ordering;
using Verdict = Destination::Verdict;
using Result = Destination::Result;

namespace {

struct BatchFixture : DestinationFixture {
  explicit BatchFixture(Ordering ordering, size_t max_records = 10, int capacity = 16,
                        BreakerSettings breaker = breaker_settings(5))
      : DestinationFixture(ordering, capacity, breaker) {
    BatchSettings settings;
    settings.max_records = max_records;
    settings.max_bytes = 1024;
    settings.linger = 5ms;
    destination.set_batches(settings);
  }

  // Lets `linger` pass and wakes the destination, as the engine's timer would.
  void linger() {
    now += 5ms;
    destination.wake(now);
  }
  // The offsets in batch `index` (in the order sent), as "partition/offset".
  std::vector<std::string> batch(size_t index) const {
    REQUIRE(index < sink->batches.size());
    std::vector<std::string> out;
    for (const InFlightRecord* record : sink->batches[index].records) {
      out.push_back(std::to_string(record->partition->partition) + "/" + std::to_string(record->offset));
    }
    return out;
  }
  // Answers batch `index`, then pumps; returns the verdicts.
  Destination::BatchVerdicts answer_batch(size_t index, Result result) {
    Destination::BatchVerdicts verdicts;
    destination.on_batch_result(sink->batches[index].id, result, now, std::nullopt, verdicts);
    destination.pump(now);
    return verdicts;
  }
  static std::vector<Verdict> verdicts_of(const Destination::BatchVerdicts& verdicts) {
    std::vector<Verdict> out;
    for (const auto& [record, verdict] : verdicts) out.push_back(verdict);
    return out;
  }
};

using Names = std::vector<std::string>;

}  // namespace

TEST_CASE("batch: a batch goes when full, or linger after its first record", "[engine][destination][batch]") {
  BatchFixture f(Ordering::None, 3);
  f.offer(0, 0);
  f.offer(0, 1);
  CHECK(f.sink->batches.empty());
  REQUIRE(f.events.wakes.size() == 1);
  CHECK(f.events.wakes[0] == f.now + 5ms);
  f.linger();
  CHECK(f.batch(0) == Names{"0/0", "0/1"});
  CHECK(f.destination.in_flight() == 1);  // one request
  CHECK(f.sink->sent.empty());            // nothing went one by one

  // Three records fill a batch: it goes at once.
  for (int64_t offset = 2; offset < 5; ++offset) f.offer(0, offset);
  CHECK(f.batch(1) == Names{"0/2", "0/3", "0/4"});
  CHECK(f.events.batch_sizes == std::vector<size_t>{2, 3});
  CHECK(f.events.dispatched.size() == 5);
  CHECK(f.verdicts_of(f.answer_batch(0, Result::Delivered)) == std::vector<Verdict>{Verdict::Delivered, Verdict::Delivered});
  CHECK(f.destination.in_flight() == 1);
}

TEST_CASE("batch: max_bytes bounds a batch's values; a larger record goes alone", "[engine][destination][batch]") {
  BatchFixture f(Ordering::None, 100);
  auto sized = [&](int64_t offset, size_t bytes) -> InFlightRecord& {
    InFlightRecord& record = f.record(0, offset);
    sluice::kafka::Message::Fields fields;
    fields.topic = "inbound.email";
    fields.offset = offset;
    fields.value = std::string(bytes, ' ');
    record.message = sluice::kafka::Message::build(std::move(fields));
    return record;
  };
  f.offer(sized(0, 400));
  f.offer(sized(1, 400));
  CHECK(f.sink->batches.empty());
  f.offer(sized(2, 400));  // 1 200 bytes are there: more than a batch holds
  CHECK(f.batch(0) == Names{"0/0", "0/1"});
  f.offer(sized(3, 2000));
  CHECK(f.batch(1) == Names{"0/2"});
  f.linger();
  CHECK(f.batch(2) == Names{"0/3"});
}

TEST_CASE("batch: each partition gives all its consecutive records, and waits for the answer",
          "[engine][destination][batch][order]") {
  BatchFixture f(Ordering::Partition);
  for (int64_t offset = 0; offset < 3; ++offset) f.offer(0, offset);
  f.offer(1, 0);
  f.offer(1, 1);
  f.linger();
  CHECK(f.batch(0) == Names{"0/0", "0/1", "0/2", "1/0", "1/1"});

  // Later records of those partitions wait for the answer, however long it takes.
  f.offer(0, 3);
  f.offer(2, 0);
  f.linger();
  CHECK(f.batch(1) == Names{"2/0"});
  f.linger();
  CHECK(f.sink->batches.size() == 2);
  CHECK(f.verdicts_of(f.answer_batch(0, Result::Delivered)) == std::vector<Verdict>(5, Verdict::Delivered));
  f.linger();
  CHECK(f.batch(2) == Names{"0/3"});
}

TEST_CASE("batch: a refused batch is split until the refused record is alone, in order",
          "[engine][destination][batch][order]") {
  BatchFixture f(Ordering::Partition);
  for (int64_t offset = 0; offset < 4; ++offset) f.offer(0, offset);
  f.linger();
  REQUIRE(f.batch(0) == Names{"0/0", "0/1", "0/2", "0/3"});
  f.offer(0, 4);  // behind the batch: waits for every part of it

  // The endpoint refuses the batch because of 0/1.
  CHECK(f.answer_batch(0, Result::BadData).empty());
  CHECK(f.batch(1) == Names{"0/0", "0/1"});
  CHECK(f.sink->batches.size() == 2);  // the second half waits for the first
  CHECK(f.answer_batch(1, Result::BadData).empty());
  CHECK(f.batch(2) == Names{"0/0"});
  Destination::BatchVerdicts verdicts = f.answer_batch(2, Result::Delivered);
  REQUIRE(verdicts.size() == 1);
  CHECK(verdicts[0].first->offset == 0);
  CHECK(verdicts[0].second == Verdict::Delivered);
  CHECK(f.batch(3) == Names{"0/1"});
  verdicts = f.answer_batch(3, Result::BadData);
  REQUIRE(verdicts.size() == 1);
  CHECK(verdicts[0].first->offset == 1);
  CHECK(verdicts[0].second == Verdict::BadData);  // to the DLQ, alone
  CHECK(f.batch(4) == Names{"0/2", "0/3"});
  CHECK(f.sink->batches.size() == 5);  // 0/4 still waits
  CHECK(f.verdicts_of(f.answer_batch(4, Result::Delivered)) == std::vector<Verdict>(2, Verdict::Delivered));
  f.linger();
  CHECK(f.batch(5) == Names{"0/4"});
  CHECK(f.events.splits == 2);
  CHECK(f.destination.breaker().current_state() == BreakerState::Closed);  // refusals are answers
}

TEST_CASE("batch: a transient failure is each record's: the retry tiers while the breaker is closed",
          "[engine][destination][batch]") {
  BatchFixture f(Ordering::Partition);
  for (int64_t offset = 0; offset < 3; ++offset) f.offer(0, offset);
  f.linger();
  CHECK(f.verdicts_of(f.answer_batch(0, Result::Transient)) == std::vector<Verdict>(3, Verdict::Retry));
  CHECK(f.destination.in_flight() == 0);
  CHECK(f.destination.queued() == 0);
}

TEST_CASE("batch: in an outage the records go back to the head of their partition, in order",
          "[engine][destination][batch][order]") {
  BatchFixture f(Ordering::Partition, 10, 16, breaker_settings(1, 1, 1, 10s));
  for (int64_t offset = 0; offset < 3; ++offset) f.offer(0, offset);
  f.linger();
  f.offer(0, 3);
  f.offer(0, 4);
  CHECK(f.verdicts_of(f.answer_batch(0, Result::Transient)) == std::vector<Verdict>(3, Verdict::Waiting));
  REQUIRE(f.destination.breaker().current_state() == BreakerState::Open);
  CHECK(f.events.held(*f.partition(0)));
  CHECK(f.destination.queued() == 5);

  // The probe is one batch: the whole partition, in order, with one permit.
  f.now += 10s;
  f.destination.wake(f.now);
  f.linger();
  CHECK(f.batch(1) == Names{"0/0", "0/1", "0/2", "0/3", "0/4"});
  CHECK(f.verdicts_of(f.answer_batch(1, Result::Delivered)) == std::vector<Verdict>(5, Verdict::Delivered));
  CHECK(f.destination.breaker().current_state() == BreakerState::Closed);
  CHECK_FALSE(f.events.held(*f.partition(0)));
}

TEST_CASE("batch: after an outage the same records go again in the same order (the same Idempotency-Key)",
          "[engine][destination][batch][order]") {
  BatchFixture f(Ordering::Partition, 10, 16, breaker_settings(1, 1, 1, 10s));
  f.offer(0, 0);
  f.offer(1, 0);
  f.offer(0, 1);
  f.offer(1, 1);
  f.linger();
  const Names first = f.batch(0);
  CHECK(first == Names{"0/0", "0/1", "1/0", "1/1"});
  f.answer_batch(0, Result::Transient);
  f.now += 10s;
  f.destination.wake(f.now);
  f.linger();
  CHECK(f.batch(1) == first);
  CHECK(batch_idempotency_key(f.sink->batches[1].records) == batch_idempotency_key(f.sink->batches[0].records));
}

TEST_CASE("batch: an outage while a refused batch is split puts every part back, in order",
          "[engine][destination][batch][order]") {
  BatchFixture f(Ordering::Partition, 10, 16, breaker_settings(1, 1, 1, 10s));
  for (int64_t offset = 0; offset < 4; ++offset) f.offer(0, offset);
  f.linger();
  f.answer_batch(0, Result::BadData);
  REQUIRE(f.batch(1) == Names{"0/0", "0/1"});
  CHECK(f.verdicts_of(f.answer_batch(1, Result::Transient)) == std::vector<Verdict>(4, Verdict::Waiting));
  f.now += 10s;
  f.destination.wake(f.now);
  f.linger();
  CHECK(f.batch(2) == Names{"0/0", "0/1", "0/2", "0/3"});
}

TEST_CASE("batch: a batch is one request of the concurrency limit", "[engine][destination][batch]") {
  BatchFixture f(Ordering::None, 2, 1);
  for (int64_t offset = 0; offset < 4; ++offset) f.offer(0, offset);
  CHECK(f.sink->batches.size() == 1);  // the second batch is full, but one request is out
  f.answer_batch(0, Result::Delivered);
  CHECK(f.batch(1) == Names{"0/2", "0/3"});
}

TEST_CASE("batch: a rate-limited route takes a token per record", "[engine][destination][batch]") {
  BatchFixture f(Ordering::None);
  f.destination.set_rate_limit(RateLimiter(2, 2));
  for (int64_t offset = 0; offset < 5; ++offset) f.offer(0, offset);
  f.linger();
  CHECK(f.batch(0) == Names{"0/0", "0/1"});
  f.answer_batch(0, Result::Delivered);
  f.linger();
  CHECK(f.sink->batches.size() == 1);  // no token left
  CHECK(f.events.rate_limited.size() == 1);
  f.now += 1s;
  f.destination.wake(f.now);
  CHECK(f.batch(1) == Names{"0/2", "0/3"});
}

TEST_CASE("batch: cancelled, or of a partition gone, the records are given up", "[engine][destination][batch]") {
  BatchFixture f(Ordering::Partition);
  for (int64_t offset = 0; offset < 4; ++offset) f.offer(0, offset);
  f.linger();
  f.answer_batch(0, Result::BadData);
  // At shutdown the part in flight and the parts waiting are all given up.
  CHECK(f.verdicts_of(f.answer_batch(1, Result::Cancelled)) == std::vector<Verdict>(4, Verdict::Cancelled));
  CHECK(f.destination.in_flight() == 0);

  f.offer(1, 0);
  f.linger();
  f.partition(1)->revoked = true;
  CHECK(f.verdicts_of(f.answer_batch(2, Result::BadData)) == std::vector<Verdict>{Verdict::Cancelled});
}
