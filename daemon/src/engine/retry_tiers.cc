#include "engine/retry_tiers.h"

#include <algorithm>

#include "common/text.h"
#include "engine/record_headers.h"

namespace sluice::engine {

RetryTiers::RetryTiers(const config::RetryConfig& config) {
  for (size_t tier = 0; tier < config.tiers.size(); ++tier) {
    topics_.push_back(config.tier_topic(tier));
    delays_.push_back(config.tiers[tier]);
    tier_of_topic_[topics_.back()] = static_cast<int>(tier);
  }
}

int RetryTiers::tier_of(std::string_view topic) const {
  auto it = tier_of_topic_.find(topic);
  return it == tier_of_topic_.end() ? -1 : it->second;
}

void RetryTiers::read_retry_state(InFlightRecord& record, int tier, int64_t now_ms) const {
  if (auto count = record.message.last_header(header::kRetryCount)) {
    // A record parked behind its key's earlier one may not have failed yet (count 0).
    const int64_t least = record.message.last_header(header::kParkedBehind) ? 0 : 1;
    record.retry_count = static_cast<int>(std::clamp<int64_t>(text::parse_int(*count).value_or(1), least, 1000));
  } else {
    record.retry_count = tier + 1;
  }
  int64_t due = 0;
  if (auto header_due = record.message.last_header(header::kRetryDue)) due = text::parse_int(*header_due).value_or(0);
  record.retry_due_ms = std::min(due, now_ms + hold_limit(record, static_cast<size_t>(tier)).count());
}

std::optional<size_t> RetryTiers::next_tier(int retry_count) const {
  if (retry_count < 0 || static_cast<size_t>(retry_count) >= topics_.size()) return std::nullopt;
  return static_cast<size_t>(retry_count);
}

std::chrono::milliseconds RetryTiers::hold(size_t tier, std::optional<std::chrono::milliseconds> retry_after) const {
  if (!retry_after) return delays_[tier];
  return std::max(delays_[tier], std::min(*retry_after, kMaxRetryAfter));
}

std::chrono::milliseconds RetryTiers::hold_limit(const InFlightRecord& record, size_t tier) const {
  std::chrono::milliseconds limit = delays_[tier];
  if (auto retry_after = record.message.last_header(header::kRetryAfter)) {
    int64_t claimed = std::clamp<int64_t>(text::parse_int(*retry_after).value_or(0), 0, kMaxRetryAfter.count());
    limit = std::max(limit, std::chrono::milliseconds(claimed));
  }
  return limit;
}

Origin RetryTiers::origin_of(const kafka::Message& message, const PartitionState& consumed_from) const {
  Origin own{consumed_from.topic, consumed_from.partition, message.offset()};
  if (consumed_from.retry_tier < 0) return own;
  std::optional<std::string_view> topic = message.last_header(header::kOriginalTopic);
  std::optional<int64_t> partition;
  std::optional<int64_t> offset;
  if (auto value = message.last_header(header::kOriginalPartition)) partition = text::parse_int(*value);
  if (auto value = message.last_header(header::kOriginalOffset)) offset = text::parse_int(*value);
  if (!topic || topic->empty() || !partition || *partition < 0 || *partition > INT32_MAX || !offset || *offset < 0) {
    return own;
  }
  return {std::string(*topic), static_cast<int32_t>(*partition), *offset};
}

}  // namespace sluice::engine
