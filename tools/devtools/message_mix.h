#pragma once
// The realistic mix of inbound records the integration tests, the demo and the benchmarks
// feed sluice: valid email and WhatsApp events, duplicates (same content, new
// correlation_id/timestamp), spam, blocked senders, malformed JSON, schema violations,
// unknown types and oversized values. Every record has a unique key ("id-<n>") and knows
// where it must end up.

#include <cstdint>
#include <string>
#include <vector>

#include "devtools/kafka_tools.h"

namespace sluice::devtools {

enum class Expected {
  Forwarded,   // exactly once in its downstream topic (or, for a duplicate group, one of them)
  Duplicate,   // same content as an earlier record: one of the group is forwarded
  Filtered,    // nowhere (or in rejected_topic)
  DeadLetter,  // in the DLQ with `reason`
};

struct MixRecord {
  KafkaRecord record;
  Expected expected;
  std::string reason;            // filter or DLQ reason
  std::string downstream_topic;  // for Forwarded/Duplicate
  std::string content_group;     // records with equal fingerprints share it
};

struct MixOptions {
  int count = 500;
  uint64_t seed = 1;
  std::string email_topic = "inbound.email";
  std::string whatsapp_topic = "inbound.whatsapp";
  std::string id_prefix = "id-";
  bool include_oversized = false;  // a 2 MiB value (DLQ too_large)
};

std::vector<MixRecord> make_mix(const MixOptions& options);

// A valid email event with the given body (for tests that need one precise record).
std::string email_event(const std::string& from, const std::string& body, const std::string& correlation_id);
std::string whatsapp_event(const std::string& sender, const std::string& text, const std::string& correlation_id);

}  // namespace sluice::devtools
