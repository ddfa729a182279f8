// The watermark poller: watched partitions get answers from a thread of its own, answers for
// partitions no longer watched are dropped, and stopping does not wait for the next interval.

#include <catch2/catch.hpp>

#include <chrono>
#include <optional>
#include <thread>

#include "engine/watermark_poller.h"
#include "kafka_helpers.h"

using namespace sluice::engine;
using namespace sluice::engine::testing;
using namespace std::chrono_literals;
using sluice::kafka::TopicPartition;
using sluice::kafka::Watermarks;

namespace {

const TopicPartition kA{"inbound.email", 0};
const TopicPartition kB{"inbound.email", 1};
const TopicPartition kC{"inbound.whatsapp", 0};

// Waits up to 10 s for `poller` to have an answer for `partition` with this high watermark.
bool wait_for_answer(const WatermarkPoller& poller, const TopicPartition& partition, int64_t high) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto marks = poller.watermarks(partition);
    if (marks && marks->high == high) return true;
    std::this_thread::sleep_for(1ms);
  }
  return false;
}

// Lets a held query go when a test ends early, before the poller is joined.
struct ReleaseOnExit {
  RecordingConsumer& consumer;
  ~ReleaseOnExit() { consumer.release(); }
};

}  // namespace

TEST_CASE("watermark poller: watched partitions get answers, others none", "[engine][watermarks]") {
  RecordingConsumer consumer;
  consumer.set_marks(kA, {10, 100});
  consumer.set_marks(kB, {20, 200});
  consumer.set_marks(kC, {30, 300});
  // A long interval: the answers below come from the wake-up that watching a partition gives.
  WatermarkPoller poller(consumer, 3600s);
  poller.watch({kB, kA});
  CHECK(wait_for_answer(poller, kA, 100));
  CHECK(wait_for_answer(poller, kB, 200));
  CHECK(poller.watermarks(kA)->low == 10);
  CHECK_FALSE(poller.watermarks(kC));
  CHECK(consumer.query_count(kC) == 0);
}

TEST_CASE("watermark poller: a partition no longer watched loses its answer at once", "[engine][watermarks]") {
  RecordingConsumer consumer;
  consumer.set_marks(kA, {10, 100});
  consumer.set_marks(kB, {20, 200});
  WatermarkPoller poller(consumer, 3600s);
  poller.watch({kA, kB});
  REQUIRE(wait_for_answer(poller, kB, 200));
  poller.watch({kA});
  CHECK_FALSE(poller.watermarks(kB));
  CHECK(poller.watermarks(kA));
}

TEST_CASE("watermark poller: an answer that arrives after its partition was unwatched is dropped",
          "[engine][watermarks]") {
  RecordingConsumer consumer;
  consumer.set_marks(kA, {10, 100});
  consumer.set_marks(kB, {20, 200});
  consumer.hold(kB);  // the query for B waits until released
  WatermarkPoller poller(consumer, 3600s);
  ReleaseOnExit release_on_exit{consumer};
  poller.watch({kA, kB});
  REQUIRE(consumer.wait_for_queries(kB, 1, 10s));
  poller.watch({kA});  // unwatched while its query is out
  consumer.release();
  // The round's answers are stored together; once A's is there, B's was dropped.
  REQUIRE(wait_for_answer(poller, kA, 100));
  CHECK_FALSE(poller.watermarks(kB));
}

TEST_CASE("watermark poller: a partition watched while a round is out is asked about without waiting for the interval",
          "[engine][watermarks]") {
  // A partition that was just paused should get its lag at once, not an interval later, even
  // when it is added while the thread is busy asking about the others.
  RecordingConsumer consumer;
  consumer.set_marks(kA, {10, 100});
  consumer.set_marks(kB, {20, 200});
  consumer.hold(kA);
  WatermarkPoller poller(consumer, 3600s);
  ReleaseOnExit release_on_exit{consumer};
  poller.watch({kA});
  REQUIRE(consumer.wait_for_queries(kA, 1, 10s));
  poller.watch({kA, kB});  // while the query for A is out
  consumer.release();
  CHECK(wait_for_answer(poller, kB, 200));
}

TEST_CASE("watermark poller: stop joins promptly, without waiting for the interval", "[engine][watermarks]") {
  RecordingConsumer consumer;
  consumer.set_marks(kA, {10, 100});
  auto poller = std::make_unique<WatermarkPoller>(consumer, 3600s);
  poller->watch({kA});
  REQUIRE(wait_for_answer(*poller, kA, 100));  // the thread now waits out its interval
  const auto started = std::chrono::steady_clock::now();
  poller->stop();
  CHECK(std::chrono::steady_clock::now() - started < 5s);
  const int queries = consumer.query_count(kA);
  poller.reset();  // stopping twice is harmless
  CHECK(consumer.query_count(kA) == queries);
}

TEST_CASE("watermark poller: watched partitions are asked again every interval", "[engine][watermarks]") {
  RecordingConsumer consumer;
  consumer.set_marks(kA, {10, 100});
  WatermarkPoller poller(consumer, 10ms);
  poller.watch({kA});
  REQUIRE(wait_for_answer(poller, kA, 100));
  consumer.set_marks(kA, {10, 150});  // the partition grew while paused
  CHECK(wait_for_answer(poller, kA, 150));
  CHECK(consumer.query_count(kA) >= 2);
}
