#pragma once
// The verdict of a chaos run: every output the run left behind (the downstream topic, the
// requests the HTTP sink answered with 2xx, the DLQ, the rejected topic) is matched back to
// the input record it came from by its `test-id` header, which sluice keeps on every output
// (its key when it has none; or, for HTTP, its body, which is the original value), its key
// checked too, and each input record of the mix gets exactly one outcome — or is lost.
//
// Outcomes of a valid record: forwarded (its own copy reached its sink), duplicate (another
// record of its content group reached the sink, so dedup rightly held this one back), or
// dead-lettered after running out of retry tiers (the sink kept failing; allowed, counted
// apart). A filtered record must be in the rejected topic, bad data in the DLQ with the
// reason the mix predicts. Anything found where it does not belong is a failed check, not an
// outcome. Redeliveries (at-least-once after a kill) are counted, never hidden.
//
// Runs on the main thread once the daemon has stopped.

#include <array>
#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "devtools/kafka_tools.h"
#include "devtools/message_mix.h"

namespace sluice::chaos {

// One request the HTTP sink answered with 2xx.
struct HttpDelivery {
  std::string body;
  std::string idempotency_key;
  std::chrono::system_clock::time_point at;  // when the request was answered
  std::string source;  // X-Sluice-Source: the topic/partition/offset sluice read it from
};

struct RunOutputs {
  std::string downstream_topic;               // the topic route's destination
  std::vector<devtools::KafkaRecord> downstream;
  std::vector<HttpDelivery> http;
  std::vector<devtools::KafkaRecord> dead_letters;
  std::vector<devtools::KafkaRecord> rejected;
};

enum class Outcome : size_t {
  ForwardedTopic,
  ForwardedHttp,
  Duplicate,
  Filtered,
  DeadLetterBadData,
  DeadLetterRetriesExhausted,
  Lost,
  Count,
};

const char* outcome_name(Outcome outcome);

// A failed check: what went wrong, how often, and the first record it happened to.
struct Problem {
  size_t count = 0;
  std::string example;
};

struct Accounting {
  size_t records_in = 0;
  std::array<size_t, static_cast<size_t>(Outcome::Count)> outcomes{};
  std::vector<std::string> lost_examples;  // the first few lost keys, with what was expected

  // Deliveries beyond the first of a content group (topic and HTTP together), and repeated
  // DLQ / rejected copies of one record: the at-least-once redeliveries.
  size_t duplicate_deliveries_topic = 0;
  size_t duplicate_deliveries_http = 0;
  size_t repeated_dead_letters = 0;
  size_t repeated_rejections = 0;
  // Valid records delivered and also dead-lettered as retries_exhausted: a copy redelivered
  // after a kill that then met a failing sink. Counted, not an error.
  size_t delivered_and_exhausted = 0;
  // DLQ records of valid records that ran out of retry tiers, by the error of the last try.
  std::map<std::string, size_t> exhausted_by_detail;

  std::map<std::string, Problem> problems;  // keyed by the kind of failed check

  size_t lost() const { return outcomes[static_cast<size_t>(Outcome::Lost)]; }
  size_t count(Outcome outcome) const { return outcomes[static_cast<size_t>(outcome)]; }
};

Accounting account(const std::vector<devtools::MixRecord>& mix, const RunOutputs& outputs);

}  // namespace sluice::chaos
