// Exactly-once commits: a round puts the completed prefix's offsets into the transaction
// with the group as it stands now, commits only when every output comes from a record below
// them, aborts (and has the engine rewind) whenever the transaction cannot be trusted, and
// confirms dedup fingerprints only once the transaction committed.

#include <catch2/catch.hpp>

#include <chrono>
#include <vector>

#include "committer_helpers.h"
#include "engine/transactional_committer.h"

using namespace sluice::engine;
using namespace sluice::engine::testing;
using namespace std::chrono_literals;
using Result = Committer::Result;
using Positions = std::vector<std::pair<std::string, int64_t>>;
using Calls = std::vector<std::string>;

namespace {

struct Fixture : CommitterParts {
  Fixture() : CommitterParts(true) {}

  RecordingProducer producer;
  int between_flushes = 0;
  TransactionalCommitter committer{producer, consumer, dedup, table, metrics, clock, [this] {
    between_flushes += 1;
    return true;
  }};

  Committer::TimePoint deadline() const { return std::chrono::steady_clock::now() + 10s; }
  Calls transaction_calls() const {
    Calls calls;
    for (const std::string& call : producer.calls) {
      if (call != "flush") calls.push_back(call);
    }
    return calls;
  }
};

}  // namespace

TEST_CASE("exactly-once: nothing produced and nothing completed starts no transaction", "[engine][commit][txn]") {
  Fixture f;
  f.partition("inbound.email", 0, 2, {});
  CHECK(f.committer.commit(false, f.deadline()) == Result::Nothing);
  CHECK(f.producer.calls.empty());
}

TEST_CASE("exactly-once: a round commits the completed prefix with the group metadata of that moment",
          "[engine][commit][txn]") {
  Fixture f;
  auto p = f.partition("inbound.email", 0, 4, {0, 1, 2});
  auto q = f.partition("inbound.email", 1, 2, {});
  f.consumer.generation = 3;
  f.consumer.member_id = "member-3";
  REQUIRE(f.committer.before_produce());
  f.committer.on_output(p, 1);
  f.committer.on_output(p, 2);
  // The group rebalanced meanwhile: the offsets must carry the new generation, or the broker
  // could not tell this member from a zombie.
  f.consumer.generation = 4;
  f.consumer.member_id = "member-4";
  CHECK(f.committer.commit(false, f.deadline()) == Result::Committed);
  CHECK(f.transaction_calls() == Calls{"begin_transaction", "send_offsets_to_transaction", "commit_transaction"});
  REQUIRE(f.producer.sent_offsets.size() == 1);
  CHECK(positions_of(f.producer.sent_offsets[0]) == Positions{{"inbound.email/0", 3}});
  CHECK(f.producer.sent_generation == std::vector<int32_t>{4});
  CHECK(f.producer.sent_member_id == std::vector<std::string>{"member-4"});
  CHECK(p->offsets.committed() == std::optional<int64_t>(3));
  CHECK_FALSE(q->offsets.committed());

  // The next round begins a new transaction.
  REQUIRE(f.committer.before_produce());
  CHECK(f.producer.count("begin_transaction") == 2);
}

TEST_CASE("exactly-once: an output from a record not below the committed position aborts the round",
          "[engine][commit][txn]") {
  // Offsets 0..2 complete, so the position is 3; an output of the record at offset 3 would
  // be committed while its record is not, and written again after a crash.
  Fixture f;
  auto p = f.partition("inbound.email", 0, 5, {0, 1, 2});
  REQUIRE(f.committer.before_produce());
  f.committer.on_output(p, 1);
  f.committer.on_output(p, 3);
  CHECK(f.committer.commit(false, f.deadline()) == Result::Rewind);
  CHECK(f.transaction_calls() == Calls{"begin_transaction", "abort_transaction"});
  CHECK_FALSE(p->offsets.committed());
}

TEST_CASE("exactly-once: an output of a partition with nothing completed aborts the round", "[engine][commit][txn]") {
  Fixture f;
  auto p = f.partition("inbound.email", 0, 3, {});
  REQUIRE(f.committer.before_produce());
  f.committer.on_output(p, 0);
  CHECK(f.committer.commit(false, f.deadline()) == Result::Rewind);
  CHECK(f.producer.count("commit_transaction") == 0);
  CHECK(f.producer.count("abort_transaction") == 1);
}

TEST_CASE("exactly-once: an output of a revoked partition aborts the round", "[engine][commit][txn]") {
  Fixture f;
  auto p = f.partition("inbound.email", 0, 3, {0, 1, 2});
  REQUIRE(f.committer.before_produce());
  f.committer.on_output(p, 1);
  f.table.remove("inbound.email", 0);
  CHECK(f.committer.commit(false, f.deadline()) == Result::Rewind);
  CHECK(f.producer.count("send_offsets_to_transaction") == 0);
}

TEST_CASE("exactly-once: refused offsets (a stale generation) abort the transaction", "[engine][commit][txn]") {
  Fixture f;
  auto p = f.partition("inbound.email", 0, 2, {0, 1});
  f.producer.failures["send_offsets_to_transaction"].push_back(txn_error("ILLEGAL_GENERATION", false, true, false));
  REQUIRE(f.committer.before_produce());
  f.committer.on_output(p, 0);
  CHECK(f.committer.commit(false, f.deadline()) == Result::Rewind);
  CHECK(f.transaction_calls() ==
        Calls{"begin_transaction", "send_offsets_to_transaction", "abort_transaction"});
  CHECK_FALSE(p->offsets.committed());
}

TEST_CASE("exactly-once: a fatal error stops the committer", "[engine][commit][txn]") {
  SECTION("sending the offsets") {
    Fixture f;
    auto p = f.partition("inbound.email", 0, 2, {0, 1});
    f.producer.failures["send_offsets_to_transaction"].push_back(txn_error("PRODUCER_FENCED", false, false, true));
    REQUIRE(f.committer.before_produce());
    CHECK(f.committer.commit(false, f.deadline()) == Result::Fatal);
    CHECK(f.producer.count("commit_transaction") == 0);
    CHECK_FALSE(p->offsets.committed());
    CHECK_FALSE(f.committer.before_produce());
    CHECK(f.committer.commit(false, f.deadline()) == Result::Fatal);
  }
  SECTION("committing") {
    Fixture f;
    auto p = f.partition("inbound.email", 0, 2, {0, 1});
    f.producer.failures["commit_transaction"].push_back(txn_error("PRODUCER_FENCED", false, false, true));
    REQUIRE(f.committer.before_produce());
    CHECK(f.committer.commit(false, f.deadline()) == Result::Fatal);
    CHECK_FALSE(p->offsets.committed());
    CHECK_FALSE(f.committer.before_produce());
  }
  SECTION("beginning") {
    Fixture f;
    f.producer.failures["begin_transaction"].push_back(txn_error("PRODUCER_FENCED", false, false, true));
    CHECK_FALSE(f.committer.before_produce());
    CHECK(f.committer.commit(false, f.deadline()) == Result::Fatal);
  }
}

TEST_CASE("exactly-once: a retriable commit is tried again, an abortable one aborts", "[engine][commit][txn]") {
  SECTION("retriable") {
    Fixture f;
    auto p = f.partition("inbound.email", 0, 2, {0, 1});
    f.producer.failures["commit_transaction"].push_back(txn_error("COORDINATOR_LOAD_IN_PROGRESS", true, false, false));
    REQUIRE(f.committer.before_produce());
    CHECK(f.committer.commit(false, f.deadline()) == Result::Committed);
    CHECK(f.producer.count("commit_transaction") == 2);
    CHECK(p->offsets.committed() == std::optional<int64_t>(2));
  }
  SECTION("abortable") {
    Fixture f;
    auto p = f.partition("inbound.email", 0, 2, {0, 1});
    f.producer.failures["commit_transaction"].push_back(txn_error("INVALID_PRODUCER_EPOCH", false, true, false));
    REQUIRE(f.committer.before_produce());
    CHECK(f.committer.commit(false, f.deadline()) == Result::Rewind);
    CHECK(f.producer.count("abort_transaction") == 1);
    CHECK_FALSE(p->offsets.committed());
  }
}

TEST_CASE("exactly-once: the round waits for its outputs, and aborts if they are not acknowledged in time",
          "[engine][commit][txn]") {
  SECTION("acknowledged") {
    Fixture f;
    auto p = f.partition("inbound.email", 0, 2, {0, 1});
    REQUIRE(f.committer.before_produce());
    f.committer.on_output(p, 1);
    f.producer.outstanding_outputs = 3;
    CHECK(f.committer.commit(false, f.deadline()) == Result::Committed);
    CHECK(f.producer.count("flush") == 3);
    CHECK(f.between_flushes == 3);  // deliveries handled between the waits
    // The offsets went only after the last output was acknowledged.
    CHECK(f.producer.calls == Calls{"begin_transaction", "flush", "flush", "flush", "send_offsets_to_transaction",
                                    "commit_transaction"});
  }
  SECTION("not in time") {
    Fixture f;
    auto p = f.partition("inbound.email", 0, 2, {0, 1});
    REQUIRE(f.committer.before_produce());
    f.committer.on_output(p, 1);
    f.producer.outstanding_outputs = 3;
    CHECK(f.committer.commit(true, std::chrono::steady_clock::now() - 1ms) == Result::Rewind);
    CHECK(f.producer.count("send_offsets_to_transaction") == 0);
    CHECK(f.producer.count("abort_transaction") == 1);
  }
}

TEST_CASE("exactly-once: a lost revocation aborts an open transaction", "[engine][commit][txn]") {
  SECTION("open") {
    Fixture f;
    auto p = f.partition("inbound.email", 0, 2, {0, 1});
    REQUIRE(f.committer.before_produce());
    f.committer.on_output(p, 0);
    CHECK(f.committer.revoke({p}, true) == Result::Rewind);
    CHECK(f.transaction_calls() == Calls{"begin_transaction", "abort_transaction"});
  }
  SECTION("none open") {
    Fixture f;
    auto p = f.partition("inbound.email", 0, 2, {0, 1});
    CHECK(f.committer.revoke({p}, true) == Result::Nothing);
    CHECK(f.producer.calls.empty());
  }
  SECTION("not lost: the round commits") {
    Fixture f;
    auto p = f.partition("inbound.email", 0, 2, {0, 1});
    REQUIRE(f.committer.before_produce());
    f.committer.on_output(p, 1);
    CHECK(f.committer.revoke({p}, false) == Result::Committed);
    CHECK(f.producer.count("commit_transaction") == 1);
  }
}

TEST_CASE("exactly-once: dedup fingerprints are confirmed only after the commit", "[engine][commit][txn]") {
  SECTION("committed") {
    Fixture f;
    auto p = f.partition("inbound.email", 0, 2, {0, 1});
    REQUIRE(f.committer.before_produce());
    auto fingerprint = f.forward_one(p, 5);
    f.committer.on_output(p, 0);
    f.dedup.flush_updates();
    CHECK(f.store.confirmed.empty());
    CHECK(f.committer.commit(false, f.deadline()) == Result::Committed);
    CHECK(f.store.confirmed == std::vector<sluice::fingerprint::Fingerprint>{fingerprint});
    // Confirmed entries are made durable with the commit.
    CHECK(f.store.calls.back() == "flush");
  }
  SECTION("the commit refused") {
    Fixture f;
    auto p = f.partition("inbound.email", 0, 2, {0, 1});
    f.producer.failures["commit_transaction"].push_back(txn_error("INVALID_PRODUCER_EPOCH", false, true, false));
    REQUIRE(f.committer.before_produce());
    auto fingerprint = f.forward_one(p, 5);
    f.committer.on_output(p, 0);
    CHECK(f.committer.commit(false, f.deadline()) == Result::Rewind);
    f.dedup.flush_updates();
    // The forward is gone with the transaction: its record comes again and must not be
    // taken for a duplicate.
    CHECK(f.store.confirmed.empty());
    CHECK(f.store.released == std::vector<sluice::fingerprint::Fingerprint>{fingerprint});
  }
  SECTION("aborted") {
    Fixture f;
    auto p = f.partition("inbound.email", 0, 2, {0});
    REQUIRE(f.committer.before_produce());
    auto fingerprint = f.forward_one(p, 5);
    f.committer.on_output(p, 1);  // not below the position: aborts
    CHECK(f.committer.commit(false, f.deadline()) == Result::Rewind);
    f.dedup.flush_updates();
    CHECK(f.store.confirmed.empty());
    CHECK(f.store.released == std::vector<sluice::fingerprint::Fingerprint>{fingerprint});
  }
}
