#include "engine/output_order.h"

#include <algorithm>

#include "common/assert.h"

namespace sluice::engine {

void OutputOrder::track(InFlightRecord& record) {
  if (!enabled_) return;
  record.output_released = false;
  record.partition->output_order.push_back({record.offset, &record});
}

bool OutputOrder::may_produce(InFlightRecord& record) {
  if (!enabled_ || record.output_released) return true;
  std::deque<OutputTurn>& order = record.partition->output_order;
  if (!order.empty() && order.front().record == &record) return true;
  SLUICE_ASSERT(record.partition->revoked || !order.empty(), "an unreleased record has a turn in its partition");
  record.waiting_for_turn = true;
  return false;
}

void OutputOrder::release(InFlightRecord& record, std::vector<InFlightRecord*>& ready) {
  if (!enabled_ || record.output_released) return;
  record.output_released = true;
  record.waiting_for_turn = false;
  PartitionState& partition = *record.partition;
  std::deque<OutputTurn>& order = partition.output_order;
  if (order.empty()) return;  // forgotten (revoked or rewound)
  // Offsets are tracked in increasing order and usually consecutive: the turn is mostly at
  // its distance from the front.
  auto it = order.end();
  const int64_t distance = record.offset - order.front().offset;
  if (distance >= 0 && distance < static_cast<int64_t>(order.size()) && order[static_cast<size_t>(distance)].record == &record) {
    it = order.begin() + distance;
  } else {
    it = std::lower_bound(order.begin(), order.end(), record.offset,
                          [](const OutputTurn& turn, int64_t offset) { return turn.offset < offset; });
  }
  if (it == order.end() || it->record != &record) return;  // not of this partition's order any more
  it->record = nullptr;
  while (!order.empty() && order.front().record == nullptr) order.pop_front();
  if (!order.empty() && order.front().record->waiting_for_turn) {
    order.front().record->waiting_for_turn = false;
    ready.push_back(order.front().record);
  }
}

void OutputOrder::forget(PartitionState& partition, std::vector<InFlightRecord*>& waiting) {
  for (OutputTurn& turn : partition.output_order) {
    if (turn.record != nullptr && turn.record->waiting_for_turn) {
      turn.record->waiting_for_turn = false;
      waiting.push_back(turn.record);
    }
  }
  partition.output_order.clear();
}

}  // namespace sluice::engine
