// The in-flight budget: how much the next batch may take, when taking stops and resumes, and
// when a lasting stop pauses every partition.

#include <catch2/catch.hpp>

#include "engine/backpressure.h"

using namespace sluice::engine;
using namespace std::chrono_literals;
using Change = Backpressure::Change;

namespace {

const Backpressure::TimePoint kStart = Backpressure::TimePoint{} + 1h;

}  // namespace

TEST_CASE("backpressure: the first batch is one record, then the budget left decides", "[engine][backpressure]") {
  Backpressure budget(1000, 1'000'000, 5s);
  CHECK(budget.batch_room(0, 0, 500) == 1);  // no record size known yet
  budget.observe_batch(10, 10'000);           // 1000 bytes per record
  CHECK(budget.batch_room(0, 0, 500) == 500);  // the batch size caps it
  CHECK(budget.batch_room(900, 0, 500) == 100);
  // 100 000 bytes left: about a hundred records, overshooting by at most one.
  CHECK(budget.batch_room(0, 900'000, 500) == 101);
  CHECK(budget.batch_room(1000, 0, 500) == 1);  // never zero: the caller stops taking instead
  CHECK(budget.batch_room(0, 2'000'000, 500) == 1);
  budget.observe_batch(0, 0);  // an empty batch teaches nothing
  CHECK(budget.batch_room(0, 900'000, 500) == 101);
}

TEST_CASE("backpressure: taking stops at the budget and resumes only at 80 % of both", "[engine][backpressure]") {
  Backpressure budget(1000, 1'000'000, 5s);
  CHECK(budget.update(999, 999'999, kStart) == Change::None);
  CHECK(budget.update(1000, 0, kStart) == Change::StopTaking);
  CHECK(budget.stopped());
  CHECK(budget.update(1000, 0, kStart) == Change::None);  // once
  CHECK(budget.update(801, 0, kStart) == Change::None);
  CHECK(budget.update(800, 800'001, kStart) == Change::None);  // bytes still above 80 %
  CHECK(budget.update(800, 800'000, kStart) == Change::ResumeTaking);
  CHECK_FALSE(budget.stopped());
  CHECK(budget.update(0, 1'000'000, kStart) == Change::StopTaking);  // bytes alone stop it too
}

TEST_CASE("backpressure: a stop that lasts pause_after pauses every partition, and resumes them", "[engine][backpressure]") {
  Backpressure budget(1000, 1'000'000, 5s);
  CHECK(budget.update(1000, 0, kStart) == Change::StopTaking);
  CHECK(budget.update(1000, 0, kStart + 4999ms) == Change::None);
  CHECK_FALSE(budget.paused());
  CHECK(budget.update(1000, 0, kStart + 5s) == Change::PauseAll);
  CHECK(budget.paused());
  CHECK(budget.update(1000, 0, kStart + 60s) == Change::None);  // once
  CHECK(budget.update(700, 0, kStart + 61s) == Change::ResumeAll);
  CHECK_FALSE(budget.paused());
  CHECK_FALSE(budget.stopped());

  // The next stop counts its own time from when it began.
  CHECK(budget.update(1000, 0, kStart + 100s) == Change::StopTaking);
  CHECK(budget.update(1000, 0, kStart + 104s) == Change::None);
  CHECK(budget.update(1000, 0, kStart + 105s) == Change::PauseAll);
}

TEST_CASE("backpressure: a stop that ends before pause_after only resumes taking", "[engine][backpressure]") {
  Backpressure budget(10, 1'000'000, 5s);
  CHECK(budget.update(10, 0, kStart) == Change::StopTaking);
  CHECK(budget.update(8, 0, kStart + 4s) == Change::ResumeTaking);
  CHECK(budget.update(9, 0, kStart + 10s) == Change::None);
}

TEST_CASE("backpressure: the time taking was stopped adds up over stops, the one going on included",
          "[engine][backpressure]") {
  Backpressure budget(1000, 1'000'000, 5s);
  CHECK(budget.stopped_time(kStart) == 0s);
  CHECK(budget.update(1000, 0, kStart) == Change::StopTaking);
  CHECK(budget.stopped_time(kStart + 3s) == 3s);  // still stopped: counted so far
  CHECK(budget.update(800, 0, kStart + 4s) == Change::ResumeTaking);
  CHECK(budget.stopped_time(kStart + 60s) == 4s);  // running again: no more
  CHECK(budget.update(1000, 0, kStart + 70s) == Change::StopTaking);
  CHECK(budget.update(1000, 0, kStart + 75s) == Change::PauseAll);
  CHECK(budget.update(0, 0, kStart + 76s) == Change::ResumeAll);
  CHECK(budget.stopped_time(kStart + 100s) == 10s);
}
