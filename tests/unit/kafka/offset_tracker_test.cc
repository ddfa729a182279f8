#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <vector>

#include "kafka/offset_tracker.h"

using sluice::kafka::OffsetTracker;

TEST_CASE("the commit position never passes a record that is not complete", "[kafka][offsets]") {
  OffsetTracker tracker;
  for (int64_t offset = 10; offset < 15; ++offset) tracker.track(offset);
  CHECK_FALSE(tracker.committable());
  REQUIRE(tracker.complete(12));
  REQUIRE(tracker.complete(14));
  CHECK_FALSE(tracker.committable());  // 10 and 11 are still open
  REQUIRE(tracker.complete(10));
  CHECK(tracker.committable() == 11);
  REQUIRE(tracker.complete(11));
  CHECK(tracker.committable() == 13);  // 13 is still open
  REQUIRE(tracker.complete(13));
  CHECK(tracker.committable() == 15);
  CHECK(tracker.pending() == 0);
}

TEST_CASE("gaps in offsets (compaction, transaction markers) do not hold the position back", "[kafka][offsets]") {
  OffsetTracker tracker;
  tracker.track(3);
  tracker.track(7);
  tracker.track(20);
  CHECK_FALSE(tracker.complete(4));  // in a gap: never tracked
  CHECK_FALSE(tracker.complete(21));
  REQUIRE(tracker.complete(7));
  REQUIRE(tracker.complete(3));
  CHECK(tracker.committable() == 8);
  CHECK(tracker.oldest_pending() == 20);
}

TEST_CASE("committed positions are offered once, and again after a failed commit", "[kafka][offsets]") {
  OffsetTracker tracker;
  tracker.track(0);
  REQUIRE(tracker.complete(0));
  REQUIRE(tracker.committable() == 1);
  tracker.mark_committed(1);
  CHECK_FALSE(tracker.committable());
  tracker.forget_committed();
  CHECK(tracker.committable() == 1);
}

TEST_CASE("completing an unknown or already completed offset is refused", "[kafka][offsets]") {
  OffsetTracker tracker;
  // Prefetching is a hint that must stay inside the window (the sanitizers check it).
  tracker.prefetch(5);
  tracker.track(5);
  for (int64_t offset : {4, 5, 6, 1'000'000}) tracker.prefetch(offset);
  CHECK_FALSE(tracker.complete(4));
  CHECK(tracker.complete(5));
  CHECK_FALSE(tracker.complete(5));
}

TEST_CASE("random completion order always commits exactly the completed prefix", "[kafka][offsets]") {
  std::mt19937 random(1234);
  for (int round = 0; round < 50; ++round) {
    OffsetTracker tracker;
    std::vector<int64_t> offsets;
    int64_t offset = 100;
    for (int i = 0; i < 200; ++i) {
      offset += 1 + static_cast<int64_t>(random() % 3);
      offsets.push_back(offset);
      tracker.track(offset);
    }
    std::vector<int64_t> order = offsets;
    std::shuffle(order.begin(), order.end(), random);
    std::vector<bool> done(offsets.size(), false);
    for (int64_t completed : order) {
      REQUIRE(tracker.complete(completed));
      done[static_cast<size_t>(std::find(offsets.begin(), offsets.end(), completed) - offsets.begin())] = true;
      size_t prefix = 0;
      while (prefix < done.size() && done[prefix]) ++prefix;
      if (prefix == 0) {
        CHECK_FALSE(tracker.committable());
      } else {
        CHECK(tracker.committable() == offsets[prefix - 1] + 1);
      }
    }
  }
}

TEST_CASE("offset tracker: an offset tracked before, or below the completed prefix, is already seen",
          "[kafka][offset_tracker]") {
  sluice::kafka::OffsetTracker tracker;
  CHECK_FALSE(tracker.already_seen(0));
  tracker.track(10, 0);
  tracker.track(11, 0);
  CHECK(tracker.already_seen(10));
  CHECK(tracker.already_seen(11));
  CHECK(tracker.already_seen(3));
  CHECK_FALSE(tracker.already_seen(12));
  tracker.complete(10);
  tracker.complete(11);
  // The window is empty now: the completed prefix decides.
  CHECK(tracker.already_seen(11));
  CHECK_FALSE(tracker.already_seen(12));
  CHECK_FALSE(tracker.already_seen(40));  // a gap (compaction, transaction markers) is not a copy
}
