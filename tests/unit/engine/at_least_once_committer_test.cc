// At-least-once commits: only the completed prefix of each partition, and only once the dedup
// entries confirmed by the committed records are durable.

#include <catch2/catch.hpp>

#include <chrono>
#include <vector>

#include "committer_helpers.h"
#include "engine/at_least_once_committer.h"

using namespace sluice::engine;
using namespace sluice::engine::testing;
using namespace std::chrono_literals;
using Result = Committer::Result;
using Positions = std::vector<std::pair<std::string, int64_t>>;

namespace {

struct Fixture : CommitterParts {
  AtLeastOnceCommitter committer{consumer, store, dedup, table, metrics, clock};
  Committer::TimePoint deadline() const { return std::chrono::steady_clock::now() + 10s; }
};

}  // namespace

TEST_CASE("at-least-once: only the completed prefix is committed", "[engine][commit]") {
  Fixture f;
  auto p = f.partition("inbound.email", 0, 5, {0, 1, 3});
  CHECK(f.committer.commit(false, f.deadline()) == Result::Committed);
  REQUIRE(f.consumer.async_commits.size() == 1);
  // Offset 3 is done but 2 is not: committing past 2 would lose it after a crash.
  CHECK(positions_of(f.consumer.async_commits[0]) == Positions{{"inbound.email/0", 2}});

  CHECK(f.committer.commit(false, f.deadline()) == Result::Nothing);  // nothing new
  CHECK(f.consumer.async_commits.size() == 1);
  REQUIRE(p->offsets.complete(2));
  CHECK(f.committer.commit(false, f.deadline()) == Result::Committed);
  CHECK(positions_of(f.consumer.async_commits.back()) == Positions{{"inbound.email/0", 4}});
}

TEST_CASE("at-least-once: nothing completed, nothing committed", "[engine][commit]") {
  Fixture f;
  f.partition("inbound.email", 0, 3, {1, 2});
  CHECK(f.committer.commit(false, f.deadline()) == Result::Nothing);
  CHECK(f.consumer.async_commits.empty());
}

TEST_CASE("at-least-once: a commit waits for the dedup store's durable ticket", "[engine][commit]") {
  Fixture f;
  f.store.synchronous = false;  // writes on a thread of its own
  auto p = f.partition("inbound.email", 0, 4, {0, 1});
  auto fingerprint = f.forward_one(p, 7);
  CHECK(f.committer.commit(false, f.deadline()) == Result::Committed);
  // The confirm went to the store before the flush was asked for.
  CHECK(f.store.confirmed == std::vector<sluice::fingerprint::Fingerprint>{fingerprint});
  CHECK(f.store.calls == std::vector<std::string>{"reserve", "confirm", "request_flush"});
  CHECK(f.consumer.async_commits.empty());
  f.committer.poll();
  CHECK(f.consumer.async_commits.empty());

  // A second commit round while the first ticket is not durable yet.
  REQUIRE(p->offsets.complete(2));
  CHECK(f.committer.commit(false, f.deadline()) == Result::Committed);
  CHECK(f.consumer.async_commits.empty());

  f.store.durable = 1;
  f.committer.poll();
  REQUIRE(f.consumer.async_commits.size() == 1);
  CHECK(positions_of(f.consumer.async_commits[0]) == Positions{{"inbound.email/0", 2}});
  f.store.durable = 2;
  f.committer.poll();
  REQUIRE(f.consumer.async_commits.size() == 2);
  CHECK(positions_of(f.consumer.async_commits[1]) == Positions{{"inbound.email/0", 3}});
  f.committer.poll();
  CHECK(f.consumer.async_commits.size() == 2);
}

TEST_CASE("at-least-once: a partition revoked while its commit waits is not committed", "[engine][commit]") {
  Fixture f;
  f.store.synchronous = false;
  f.partition("inbound.email", 0, 2, {0});
  f.partition("inbound.email", 1, 2, {0, 1});
  CHECK(f.committer.commit(false, f.deadline()) == Result::Committed);
  f.table.remove("inbound.email", 0);
  f.store.durable = 1;
  f.committer.poll();
  REQUIRE(f.consumer.async_commits.size() == 1);
  CHECK(positions_of(f.consumer.async_commits[0]) == Positions{{"inbound.email/1", 2}});
}

TEST_CASE("at-least-once: a lost revocation commits nothing", "[engine][commit]") {
  Fixture f;
  auto p = f.partition("inbound.email", 0, 3, {0, 1, 2});
  f.forward_one(p, 1);
  CHECK(f.committer.revoke({p}, true) == Result::Nothing);
  CHECK(f.consumer.async_commits.empty());
  CHECK(f.consumer.sync_commits.empty());
  CHECK(f.consumer.events.empty());
}

TEST_CASE("at-least-once: a revocation commits the revoked partitions after a dedup flush", "[engine][commit]") {
  Fixture f;
  auto p0 = f.partition("inbound.email", 0, 3, {0, 1, 2});
  f.partition("inbound.email", 1, 3, {0});
  f.forward_one(p0, 1);
  CHECK(f.committer.revoke({p0}, false) == Result::Committed);
  CHECK(f.consumer.events == std::vector<std::string>{"dedup flush", "commit_async"});
  REQUIRE(f.consumer.async_commits.size() == 1);
  CHECK(positions_of(f.consumer.async_commits[0]) == Positions{{"inbound.email/0", 3}});
}

TEST_CASE("at-least-once: a revocation whose dedup flush fails commits nothing", "[engine][commit]") {
  Fixture f;
  auto p = f.partition("inbound.email", 0, 3, {0, 1, 2});
  f.store.flush_answer = false;
  CHECK(f.committer.revoke({p}, false) == Result::Failed);
  CHECK(f.consumer.async_commits.empty());
}

TEST_CASE("at-least-once: the final commit waits for the store and the group", "[engine][commit]") {
  Fixture f;
  f.store.synchronous = false;
  auto p = f.partition("inbound.email", 0, 3, {0, 1});
  CHECK(f.committer.commit(true, f.deadline()) == Result::Committed);
  CHECK(f.consumer.events == std::vector<std::string>{"dedup flush", "commit_sync"});
  REQUIRE(f.consumer.sync_commits.size() == 1);
  CHECK(positions_of(f.consumer.sync_commits[0]) == Positions{{"inbound.email/0", 2}});
  CHECK(p->offsets.committed() == std::optional<int64_t>(2));
}

TEST_CASE("at-least-once: a final commit whose dedup flush fails commits nothing", "[engine][commit]") {
  Fixture f;
  f.partition("inbound.email", 0, 3, {0, 1});
  f.store.flush_answer = false;
  CHECK(f.committer.commit(true, f.deadline()) == Result::Failed);
  CHECK(f.consumer.sync_commits.empty());
}

TEST_CASE("at-least-once: a failed commit is offered again", "[engine][commit]") {
  Fixture f;
  auto p = f.partition("inbound.email", 0, 3, {0, 1});
  CHECK(f.committer.commit(false, f.deadline()) == Result::Committed);
  REQUIRE(f.consumer.async_commits.size() == 1);
  f.committer.on_commit_result(RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, f.consumer.async_commits[0]);
  CHECK(f.committer.commit(false, f.deadline()) == Result::Committed);
  REQUIRE(f.consumer.async_commits.size() == 2);
  CHECK(positions_of(f.consumer.async_commits[1]) == Positions{{"inbound.email/0", 2}});

  // A commit that could not even be sent is offered again as well.
  f.consumer.commit_async_answer = RD_KAFKA_RESP_ERR__STATE;
  REQUIRE(p->offsets.complete(2));
  f.committer.commit(false, f.deadline());
  f.consumer.commit_async_answer = RD_KAFKA_RESP_ERR_NO_ERROR;
  f.committer.commit(false, f.deadline());
  CHECK(positions_of(f.consumer.async_commits.back()) == Positions{{"inbound.email/0", 3}});
  CHECK(f.consumer.async_commits.size() == 4);
}
