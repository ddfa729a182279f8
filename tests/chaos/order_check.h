#pragma once
// Key order and duplicates downstream, for the scale-out run. Read once every sluice has
// stopped, from what the sinks received in the order they received it: the downstream topic
// (partition by partition, in offset order; a key's records belong in one partition) and the
// requests the HTTP sink answered with 2xx (in arrival order).
//
// Order: for each key of each input partition, the FIRST arrival of each input record must
// come in input offset order; a record arriving behind one that was later in its input
// partition is a violation. Arrivals of a record already delivered (at-least-once
// redeliveries) are not order violations: they are duplicates.
//
// Duplicates: every arrival of a content group (records with one fingerprint) beyond its
// first. One is explained by a kill -9 when its group has arrivals on both sides of the
// moment an instance was killed (what had arrived then is a KillMark): the dead instance
// delivered it without confirming, its successor delivered it again. Any other duplicate is
// unexplained — shared dedup and graceful drains allow none — unless sluice saw the earlier
// attempt fail although the sink had answered it: a later copy read from a retry tier (its
// sluice-source / X-Sluice-Source names a tier topic: the answer came after the route's
// timeout, or its connection broke), or an HTTP copy answered within kSinkStopWindow before
// the sink stopped (its connections closed, the answer maybe unread).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "chaos/accounting.h"
#include "devtools/kafka_tools.h"
#include "devtools/message_mix.h"

namespace sluice::chaos {

// What the sinks had received when an instance was killed (after it had died).
struct KillMark {
  size_t http_deliveries = 0;
  std::map<int32_t, int64_t> downstream_ends;  // partition → high watermark
};

// How long before a stop of the HTTP sink an answered request may have lost its answer: the
// route's timeout (1 s) and a margin.
constexpr std::chrono::milliseconds kSinkStopWindow{2000};

// Something the run did, for telling what a violation followed.
struct RunEvent {
  enum class Kind { Membership, ProduceError } kind = Kind::Membership;  // SIGTERM, kill, ready
  std::chrono::system_clock::time_point at;
};

struct SinkOrder {
  size_t keys = 0;              // (input partition, key) streams that reached the sink
  size_t first_arrivals = 0;    // records delivered at least once
  size_t violations = 0;
  // Violations by what the late record went through first: a retry tier; a dedup check that
  // waited (its content is shared with another record); a sink produce error or a restart
  // or kill shortly before it arrived; other.
  std::map<std::string, size_t> violation_causes;
  size_t duplicates = 0;        // arrivals beyond the first of a content group
  size_t duplicates_kill = 0;       // explained by a kill -9
  size_t duplicates_resent = 0;     // explained by an attempt that failed for sluice
  size_t unexplained_duplicates = 0;
  std::vector<std::string> order_examples;      // the first few violations
  std::vector<std::string> duplicate_examples;  // the first few unexplained duplicates
};

struct OrderReport {
  SinkOrder topic;
  SinkOrder http;
  size_t split_keys = 0;  // keys found in more than one partition of the downstream topic
  std::string split_example;
};

// `inbound`: every record of the inbound topics as read back (their offsets are the order).
OrderReport check_order(const std::vector<devtools::MixRecord>& mix, const std::vector<devtools::KafkaRecord>& inbound,
                        const RunOutputs& outputs, const std::vector<KillMark>& kills,
                        const std::vector<std::chrono::system_clock::time_point>& sink_stops,
                        const std::vector<RunEvent>& events);

}  // namespace sluice::chaos
