// retry.ordering: key — a key's records keep their order through the retry tiers. The
// bookkeeping is ParkedKeys (parked_keys.h); here is where the engine asks it and acts:
//
//   intake: a record gets its order partition (its own, or a tier record's origin), and a tier
//     record joins its key;
//   forward: a record of a parked key goes on only behind its key's earlier records in its own
//     gate; otherwise it is parked (to the key's tier, behind them, keeping its retry count) or,
//     behind a dead-lettered one with after_dead_letter: dead_letter, dead-lettered;
//   a failed record goes to a tier: its key is parked, and the records of its key queued behind
//     it in its gate follow it;
//   a final outcome: the record leaves its key.
//
// Tier records go to the tier partition with their input partition's number, and range
// assignment puts partition P of every topic on one instance (checked at assignment), so the
// records a key's order depends on are all here. After an assignment every tier partition is
// read to its end, only to rebuild the parked keys, before the input partitions with its number
// resume; then it is read again from where it started.

#include <algorithm>
#include <set>

#include "common/log.h"
#include "common/text.h"
#include "engine/engine.h"
#include "engine/record_headers.h"
#include "engine/trace_context.h"
#include "kafka/client.h"

namespace sluice::engine {
namespace {

using std::chrono::milliseconds;

// Bounds of the broker round trips that start a rebuild, and the wait before asking again.
constexpr milliseconds kScanSetupTimeout{10'000};
constexpr milliseconds kScanSetupRetry{1'000};

bool has_key(const InFlightRecord& record) { return record.message.key_data() != nullptr; }

}  // namespace

// Where the consumer starts a partition without a committed offset: at its oldest record
// (true), at its end (false), or nowhere (nullopt: auto.offset.reset is error).
std::optional<bool> Engine::resets_to_earliest() const {
  std::string reset = "earliest";  // the engine consumer's default (kafka/client_properties.cc)
  for (const config::StringMap* properties : {&config_->kafka.properties, &config_->kafka.consumer_properties}) {
    if (auto it = properties->find("auto.offset.reset"); it != properties->end()) reset = it->second;
  }
  if (reset == "earliest" || reset == "smallest" || reset == "beginning") return true;
  if (reset == "latest" || reset == "largest" || reset == "end") return false;
  return std::nullopt;
}

bool Engine::track_key_order(InFlightRecord* record) {
  if (!has_key(*record)) return true;  // no key, no key order
  PartitionState& partition = *record->partition;
  if (partition.retry_tier < 0) {
    record->order_partition = record->partition.get();
    record->order_offset = record->offset;
    return true;
  }
  Origin origin = tiers_.origin_of(*record);
  std::shared_ptr<PartitionState> input = partitions_->find(origin.topic, origin.partition);
  // Its input partition is not ours (a record written into the tier by someone else): no order
  // to keep here.
  if (!input || input->retry_tier >= 0) return true;
  // In the tier when its partition was assigned, though its record comes again from its input
  // partition (not committed there): this copy is a spare. Were it forwarded, it could go
  // ahead of records of its key before it that come again from there too (a restart can leave
  // a parked record's copy in the tier and lose the copy of the one before it).
  if (record->offset < partition.spare_below && origin.offset >= input->spare_from) return false;
  switch (parked_->read_from_tier(input.get(), record->key(), origin.offset, partition.retry_tier, record->tier_writes)) {
    case ParkedKeys::Read::Joined: break;
    case ParkedKeys::Read::SpareCopy: return false;
    case ParkedKeys::Read::Refused: refuse_parking(*record, origin.offset); return true;
  }
  record->order_partition = input.get();
  record->order_partition_owner = std::move(input);
  record->order_offset = origin.offset;
  return true;
}

bool Engine::follow_key_order(InFlightRecord* record) {
  // No key with its hash is parked (the common case): it goes on, and its key is not read.
  if (!parked_->may_be_parked(record->key_hash())) return true;
  PartitionState& input = *record->order_partition;
  if (input.revoked) return true;  // given up where it goes next
  // A record back from a tier goes on only once every record before it in its input partition
  // is finished: a record of its key still on its way there (consumed before the key was
  // parked, so no member) must not be overtaken. Until then it is parked again.
  if (record->partition->retry_tier >= 0) {
    std::optional<int64_t> oldest = input.offsets.oldest_pending();
    if (oldest && *oldest < record->order_offset && parked_->parked(&input, record->key())) {
      park(record);
      return false;
    }
  }
  const ParkedKeys::Gate gate{destinations_->for_route(record->route).index(), record->partition.get()};
  switch (parked_->before_forward(&input, record->key(), record->order_offset, gate)) {
    case ParkedKeys::Decision::Go: return true;
    case ParkedKeys::Decision::Park:
      park(record);
      return false;
    case ParkedKeys::Decision::DeadLetter:
      give_up_reservation(record);
      dead_letter(record, stage_name::kRetry, Reason::PredecessorDeadLettered,
                  "an earlier record of its key was dead-lettered");
      return false;
  }
  return true;
}

void Engine::park(InFlightRecord* record) {
  give_up_reservation(record);
  PartitionState* input = record->order_partition;
  record->parked_behind = parked_->head_of(input, record->key());
  const int tier = parked_->tier_of(input, record->key());
  const bool parked = parked_->to_tier(input, record->key(), record->order_offset, tier, record->tier_writes + 1);
  SLUICE_ASSERT(parked, "a record of a parked key is always taken");
  record->retry_tier = tier;
  record->attempts = 0;
  record->last_error = "parked behind an earlier record of its key";
  start_retry(record);
}

void Engine::key_to_tier(InFlightRecord* record) {
  PartitionState* input = record->order_partition;
  if (input->revoked) return;
  if (!parked_->to_tier(input, record->key(), record->order_offset, record->retry_tier, record->tier_writes + 1)) {
    refuse_parking(*record, record->order_offset);
    return;
  }
  // The records of its key queued behind it in its gate follow it, after it (its own retry
  // record was handed to the producer first).
  std::vector<InFlightRecord*> followers;
  take_followers(record, followers);
  for (InFlightRecord* follower : followers) park(follower);
}

void Engine::key_dead_lettered(InFlightRecord* record) {
  PartitionState* input = record->order_partition;
  if (input->revoked || !parked_->parked(input, record->key())) return;  // nothing waits behind it
  std::vector<InFlightRecord*> followers;
  take_followers(record, followers);
  if (config_->retry.after_dead_letter == config::ParkedAfterDeadLetter::DeadLetter) {
    // Its followers already in its gate go with it; those in the tiers when they come up.
    parked_->finished(input, record->key(), record->order_offset, true);
    for (InFlightRecord* follower : followers) {
      give_up_reservation(follower);
      dead_letter(follower, stage_name::kRetry, Reason::PredecessorDeadLettered,
                  "an earlier record of its key was dead-lettered");
    }
    return;
  }
  // release: its followers go on once its DLQ record is written (it leaves its key then, in
  // complete()); were they to go now, a restart before that could forward it after them. Until
  // then they wait in the tier.
  parked_->leave_gate(input, record->key(), record->order_offset);
  for (InFlightRecord* follower : followers) park(follower);
}

void Engine::hold_key_for_peer(InFlightRecord* record) {
  if (!record->order_partition || record->order_partition->revoked) return;
  if (!parked_->wait_at_dedup(record->order_partition, record->key(), record->order_offset)) {
    refuse_parking(*record, record->order_offset);
  }
}

void Engine::take_followers(InFlightRecord* record, std::vector<InFlightRecord*>& out) {
  const std::string_view key = record->key();
  const PartitionState* input = record->order_partition;
  destinations_->for_route(record->route).withdraw_matching(*record, [&](const InFlightRecord& queued) {
    return queued.order_partition == input && queued.key() == key && has_key(queued);
  }, out);
}

void Engine::key_finished(InFlightRecord* record) {
  // With no key of its hash parked (the common case) there is nothing to leave, and the
  // record's key is not even read.
  if (!parked_->may_be_parked(record->key_hash()) || record->order_partition->revoked) return;
  parked_->finished(record->order_partition, record->key(), record->order_offset, false);
}

void Engine::refuse_parking(const InFlightRecord& record, int64_t offset) {
  probe_.count_parking_refused();
  if (probe_.should_log("key not parked", now_.steady)) {
    log_record(log::Level::Warn, "retry.max_parked_keys reached: a key is not parked, its later records may overtake this one",
               record.message,
               {{"topic", record.partition->topic}, {"offset", offset}, {"max_parked_keys", config_->retry.max_parked_keys}});
  }
}

// ---- rebuilding after an assignment ------------------------------------------------------

void Engine::start_parking_scans(const std::vector<kafka::TopicPartition>& assigned) {
  if (tiers_.count() == 0) return;
  std::vector<std::string> missing;
  std::vector<kafka::PartitionOffset> positions;
  for (const kafka::TopicPartition& entry : assigned) {
    std::shared_ptr<PartitionState> state = partitions_->find(entry.topic, entry.partition);
    if (!state) continue;
    positions.push_back({entry.topic, entry.partition});
    if (state->retry_tier >= 0) continue;
    for (const std::string& tier : tiers_.topics()) {
      if (!partitions_->find(tier, entry.partition)) missing.push_back(tier + "/" + std::to_string(entry.partition));
    }
  }
  if (!missing.empty()) {
    std::string list;
    for (const std::string& name : missing) list += (list.empty() ? "" : ", ") + name;
    log::error("retry.ordering is key, but tier partitions with the number of an input partition here are assigned "
               "elsewhere: every tier topic needs as many partitions as the inbound topics; stopping",
               {{"missing", list}});
    fatal_error_.store(true);
    return;
  }
  // Where each partition starts and ends. A broker that does not answer now (a rebalance, a
  // leader moving) is asked again a second later; the partitions wait paused meanwhile.
  std::vector<std::optional<kafka::Watermarks>> ends;
  bool known = consumer_->committed(positions, kScanSetupTimeout) == RD_KAFKA_RESP_ERR_NO_ERROR;
  for (size_t i = 0; known && i < positions.size(); ++i) {
    ends.push_back(consumer_->query_watermarks({positions[i].topic, positions[i].partition}, kScanSetupTimeout));
    known = ends.back().has_value();
  }
  if (!known) {
    log::warn("retry.ordering is key, but where the partitions start and end could not be read; asking again");
    for (const kafka::PartitionOffset& position : positions) {
      if (auto state = partitions_->find(position.topic, position.partition)) {
        partitions_->set_pause(*state, kPauseParkingScan, true);
        scans_to_set_up_.push_back({position.topic, position.partition});
      }
    }
    scans_set_up_at_ = clock_.now() + kScanSetupRetry;
    return;
  }
  for (size_t i = 0; i < positions.size(); ++i) {
    const kafka::PartitionOffset& position = positions[i];
    std::shared_ptr<PartitionState> state = partitions_->find(position.topic, position.partition);
    const kafka::Watermarks* marks = &*ends[i];
    if (state->retry_tier < 0) {
      // Read again from its committed offset (from its oldest record when retention took that),
      // or where auto.offset.reset starts a partition without one.
      if (position.offset >= 0) {
        state->spare_from = std::max(position.offset, marks->low);
      } else if (std::optional<bool> earliest = resets_to_earliest()) {
        state->spare_from = *earliest ? marks->low : marks->high;
      }
      continue;
    }
    state->spare_below = marks->high;
    const int64_t start = position.offset >= 0 ? std::max(position.offset, marks->low) : marks->low;
    if (start >= marks->high) continue;  // nothing in it to rebuild from
    state->scan_start = start;
    state->scan_end = marks->high;
  }
  // Paused where a scan of their number runs; resumed otherwise (also after a retried setup).
  std::set<int32_t> numbers;
  for (const kafka::PartitionOffset& position : positions) numbers.insert(position.partition);
  for (int32_t number : numbers) set_scan_pauses(number);
}

void Engine::retry_scan_setup() {
  if (scans_to_set_up_.empty() || clock_.now() < scans_set_up_at_) return;
  std::vector<kafka::TopicPartition> again;
  again.swap(scans_to_set_up_);
  start_parking_scans(again);
}

// While a tier partition numbered `number` is being scanned, every other partition of that
// number waits: the input partitions, and the tier partitions already scanned (a record of
// theirs must not go before the parked keys know of the records in the others).
void Engine::set_scan_pauses(int32_t number) {
  bool scanning = false;
  for (const std::string& tier : tiers_.topics()) {
    if (auto state = partitions_->find(tier, number); state && state->scan_end >= 0) scanning = true;
  }
  partitions_->for_each([&](const std::shared_ptr<PartitionState>& state) {
    if (state->partition == number) partitions_->set_pause(*state, kPauseParkingScan, scanning && state->scan_end < 0);
  });
}

bool Engine::scan_tier_record(PartitionState& partition, const kafka::Message& message) {
  if (partition.stale_from >= 0) {
    if (message.offset() >= partition.stale_from) return true;  // fetched before the re-read
    partition.stale_from = -1;
  }
  if (partition.scan_end < 0) return false;
  if (message.key_data() != nullptr) {
    Origin origin = tiers_.origin_of(message, partition);
    std::shared_ptr<PartitionState> input = partitions_->find(origin.topic, origin.partition);
    // A spare copy (its record comes again from its input partition) is no member.
    int64_t writes = 0;
    if (auto value = message.last_header(header::kTierWrites)) writes = text::parse_int(*value).value_or(0);
    if (input && input->retry_tier < 0 && origin.offset < input->spare_from &&
        !parked_->scanned(input.get(), message.key(), origin.offset, partition.retry_tier, writes)) {
      probe_.count_parking_refused();
    }
  }
  if (message.offset() + 1 >= partition.scan_end) end_scan(partition);
  return true;
}

void Engine::end_scan(PartitionState& partition) {
  const int64_t start = partition.scan_start;
  partition.stale_from = partition.scan_end;
  partition.scan_start = -1;
  partition.scan_end = -1;
  std::vector<kafka::PartitionOffset> position{{partition.topic, partition.partition, start}};
  if (rd_kafka_resp_err_t error = consumer_->seek(position, kScanSetupTimeout); error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    log::error("a tier partition could not be read again after rebuilding the parked keys; stopping",
               {{"topic", partition.topic}, {"partition", partition.partition}, {"error", kafka::error_name(error)}});
    fatal_error_.store(true);
    return;
  }
  log::info("parked keys rebuilt from a tier partition",
            {{"topic", partition.topic}, {"partition", partition.partition}, {"parked_keys", static_cast<int64_t>(parked_->keys())}});
  set_scan_pauses(partition.partition);
}

}  // namespace sluice::engine
