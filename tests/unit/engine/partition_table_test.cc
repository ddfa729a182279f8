// The partition table: pause reasons that combine, global pauses that outlive assignments,
// renewal on a rewind, the lookup cache, and a consumer told only what changed.

#include <catch2/catch.hpp>

#include <memory>
#include <vector>

#include "engine/partition_table.h"
#include "kafka_helpers.h"

using namespace sluice::engine;
using namespace sluice::engine::testing;
using sluice::kafka::Message;
using sluice::kafka::TopicPartition;
using Calls = std::vector<std::vector<TopicPartition>>;

namespace {

struct Fixture {
  RecordingConsumer consumer;
  int states_made = 0;
  PartitionTable table{consumer, [this](const std::string& topic, int32_t partition) {
                         states_made += 1;
                         return std::make_shared<PartitionState>(topic, partition);
                       }};

  PartitionState& assign(const std::string& topic, int32_t partition) {
    PartitionState& state = table.add(topic, partition);
    table.apply_pauses({&state});
    return state;
  }
};

Message message_of(const std::string& topic, int32_t partition) {
  Message::Fields fields;
  fields.topic = topic;
  fields.partition = partition;
  fields.value = "{}";
  return Message::build(std::move(fields));
}

}  // namespace

TEST_CASE("partition table: a partition is resumed only when no pause reason is left", "[engine][partitions]") {
  Fixture f;
  PartitionState& p = f.assign("inbound.email", 0);
  f.table.set_pause(p, kPauseOutage, true);
  CHECK(f.consumer.paused == Calls{{{"inbound.email", 0}}});
  f.table.set_pause(p, kPauseRetryWait, true);
  f.table.set_pause(p, kPauseOutage, false);
  CHECK(f.consumer.resumed.empty());  // still waiting for a retry record to come due
  CHECK(p.paused_in_client);
  CHECK_FALSE(f.table.take_resumed());
  f.table.set_pause(p, kPauseRetryWait, false);
  CHECK(f.consumer.resumed == Calls{{{"inbound.email", 0}}});
  CHECK_FALSE(p.paused_in_client);
  CHECK(f.table.take_resumed());
  CHECK_FALSE(f.table.take_resumed());  // once
  CHECK(f.consumer.paused.size() == 1);
}

TEST_CASE("partition table: the consumer is told only changes", "[engine][partitions]") {
  Fixture f;
  PartitionState& a = f.assign("inbound.email", 0);
  PartitionState& b = f.assign("inbound.email", 1);
  CHECK(f.consumer.paused.empty());
  f.table.set_pause(a, kPauseRetryWait, true);
  f.table.set_pause(a, kPauseRetryWait, true);  // again: nothing new
  CHECK(f.consumer.paused == Calls{{{"inbound.email", 0}}});
  // A global pause tells only the partition that was not paused yet.
  f.table.set_pause_all(kPauseBackpressure, true);
  CHECK(f.consumer.paused == Calls{{{"inbound.email", 0}}, {{"inbound.email", 1}}});
  f.table.set_pause_all(kPauseBackpressure, true);
  CHECK(f.consumer.paused.size() == 2);
  // Lifting it resumes only the partition with no other reason.
  f.table.set_pause_all(kPauseBackpressure, false);
  CHECK(f.consumer.resumed == Calls{{{"inbound.email", 1}}});
  f.table.apply_pauses({});
  f.table.apply_pauses({&a, &b});
  CHECK(f.consumer.paused.size() == 2);
  CHECK(f.consumer.resumed.size() == 1);
  CHECK(f.table.paused_count() == 1);
}

TEST_CASE("partition table: a revoked partition is not paused or resumed in the consumer", "[engine][partitions]") {
  Fixture f;
  f.assign("inbound.email", 0);
  auto gone = f.table.remove("inbound.email", 0);
  REQUIRE(gone);
  CHECK(gone->revoked);
  f.table.set_pause(*gone, kPauseOutage, true);
  CHECK(f.consumer.paused.empty());
  CHECK_FALSE(f.table.find("inbound.email", 0));
  CHECK_FALSE(f.table.remove("inbound.email", 0));
}

TEST_CASE("partition table: global pauses apply to partitions assigned later", "[engine][partitions]") {
  Fixture f;
  f.assign("inbound.email", 0);
  f.table.set_pause_all(kPauseDedupDown, true);
  f.table.set_pause_all(kPauseStopping, true);
  PartitionState& late = f.assign("inbound.whatsapp", 3);
  CHECK(late.pause_reasons == (kPauseDedupDown | kPauseStopping));
  CHECK(f.consumer.paused.back() == std::vector<TopicPartition>{{"inbound.whatsapp", 3}});
  f.table.set_pause_all(kPauseDedupDown, false);
  CHECK(late.paused_in_client);  // still stopping
  f.table.set_pause_all(kPauseStopping, false);
  CHECK_FALSE(late.paused_in_client);
  CHECK(f.table.global_pauses() == 0);
}

TEST_CASE("partition table: renewing keeps the global pauses, drops the others and marks old states revoked",
          "[engine][partitions]") {
  Fixture f;
  PartitionState& held = f.assign("retry.10s", 0);
  PartitionState& plain = f.assign("inbound.email", 1);
  f.table.set_pause(held, kPauseRetryWait | kPauseOutage, true);
  f.table.set_pause_all(kPauseBackpressure, true);
  REQUIRE(f.consumer.paused.size() == 2);

  auto old = f.table.renew_all();
  REQUIRE(old.size() == 2);
  for (const auto& state : old) CHECK(state->revoked);
  auto fresh_held = f.table.find("retry.10s", 0);
  auto fresh_plain = f.table.find("inbound.email", 1);
  REQUIRE(fresh_held);
  REQUIRE(fresh_plain);
  CHECK(fresh_held.get() != &held);
  CHECK(fresh_plain.get() != &plain);
  CHECK_FALSE(fresh_held->revoked);
  CHECK(fresh_held->pause_reasons == kPauseBackpressure);  // a record held for retry is gone with its state
  CHECK(fresh_plain->pause_reasons == kPauseBackpressure);
  CHECK(fresh_held->paused_in_client);  // what the consumer was last told still stands
  CHECK(f.table.global_pauses() == kPauseBackpressure);

  // Lifting the global pause resumes both: nothing of the old per-partition reasons is left.
  f.table.set_pause_all(kPauseBackpressure, false);
  CHECK(f.consumer.resumed == Calls{{{"inbound.email", 1}, {"retry.10s", 0}}});
}

TEST_CASE("partition table: the lookup of a record's partition follows assignment changes", "[engine][partitions]") {
  Fixture f;
  PartitionState& first = f.assign("inbound.email", 0);
  f.assign("inbound.email", 1);
  Message zero = message_of("inbound.email", 0);
  Message one = message_of("inbound.email", 1);
  const auto* found = f.table.of(zero);
  REQUIRE(found);
  CHECK(found->get() == &first);
  CHECK(f.table.of(zero)->get() == &first);  // cached
  CHECK(f.table.of(one)->get()->partition == 1);
  CHECK(f.table.of(zero)->get() == &first);

  // Revoked: the same message (the same topic pointer) finds nothing.
  f.table.remove("inbound.email", 0);
  CHECK(f.table.of(zero) == nullptr);
  // Assigned again: the new state, not the revoked one.
  PartitionState& again = f.assign("inbound.email", 0);
  REQUIRE(f.table.of(zero));
  CHECK(f.table.of(zero)->get() == &again);
  CHECK_FALSE(again.revoked);

  // Assigned again without a revocation in between: the old state is marked revoked.
  f.table.of(zero);
  auto replaced = f.table.find("inbound.email", 0);  // kept alive to look at it
  PartitionState& third = f.assign("inbound.email", 0);
  CHECK(replaced->revoked);
  CHECK(f.table.of(zero)->get() == &third);

  // Renewed: the fresh state.
  f.table.of(zero);
  f.table.renew_all();
  CHECK(f.table.of(zero)->get() != &third);
  CHECK(f.table.of(zero)->get() == f.table.find("inbound.email", 0).get());

  Message unknown = message_of("inbound.sms", 0);
  CHECK(f.table.of(unknown) == nullptr);
}
