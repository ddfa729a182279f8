#pragma once
// The vocabulary of what happens to a record: its final outcome, the reason for it, and the
// stages sluice itself names, in one table. The stages decide a Reason, the engine counts it
// (sluice_pipeline_outcomes_total{outcome,reason}) and writes its label into DLQ records
// (`error`, sluice-error) and rejected copies (sluice-filter-reason); a test checks that the
// README documents every reason.
//
// An input offset is committed only once its record has an outcome (and any record it
// produced for it is acknowledged).

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string_view>

namespace sluice {

enum class Outcome : uint8_t { Forwarded, Filtered, Duplicate, Retry, DeadLettered };
inline constexpr size_t kOutcomeCount = 5;

constexpr std::string_view outcome_name(Outcome outcome) {
  switch (outcome) {
    case Outcome::Forwarded: return "forwarded";
    case Outcome::Filtered: return "filtered";
    case Outcome::Duplicate: return "duplicate";
    case Outcome::Retry: return "retry";
    case Outcome::DeadLettered: return "dlq";
  }
  return "unknown";
}

enum class Reason : uint8_t {
  Delivered,
  SeenWithinWindow,
  SpareCopy,
  BlockedSender,
  Spam,
  TransientError,
  ParkedBehindKey,
  TooLarge,
  InvalidFraming,
  InvalidJson,
  UnknownMessageType,
  SchemaViolation,
  NoRoute,
  ForwardRejected,
  RetriesExhausted,
  OutputRefused,
  PredecessorDeadLettered,
};
inline constexpr size_t kReasonCount = 17;

struct ReasonInfo {
  Reason reason;
  std::string_view label;  // stable snake_case: a metric label and the DLQ record's `error`
  Outcome outcome;         // the one outcome it is a reason for
  std::string_view meaning;
};

// In Reason order.
inline constexpr std::array<ReasonInfo, kReasonCount> kReasons = {{
    {Reason::Delivered, "delivered", Outcome::Forwarded, "the destination acknowledged it"},
    {Reason::SeenWithinWindow, "seen_within_window", Outcome::Duplicate,
     "the same content was forwarded within pipeline.dedup.window"},
    {Reason::SpareCopy, "spare_copy", Outcome::Duplicate,
     "an older copy of a retry-tier record left behind by a rebalance, or one whose record comes again from its "
     "input partition (retry.ordering: key)"},
    {Reason::BlockedSender, "blocked_sender", Outcome::Filtered, "from a blocked sender"},
    {Reason::Spam, "spam", Outcome::Filtered, "a spam keyword in its text"},
    {Reason::TransientError, "transient_error", Outcome::Retry,
     "its delivery failed for a passing reason; handed to a retry tier"},
    {Reason::ParkedBehindKey, "parked_behind_key", Outcome::Retry,
     "an earlier record of its key waits in a retry tier (retry.ordering: key); handed to that tier behind it"},
    {Reason::TooLarge, "too_large", Outcome::DeadLettered, "the value is larger than pipeline.max_message_bytes"},
    {Reason::InvalidFraming, "invalid_framing", Outcome::DeadLettered,
     "pipeline.value_framing is confluent, but the value does not start with the Confluent wire-format header "
     "(magic byte 0, 4-byte schema id)"},
    {Reason::InvalidJson, "invalid_json", Outcome::DeadLettered, "not exactly one valid JSON object (or a tombstone)"},
    {Reason::UnknownMessageType, "unknown_message_type", Outcome::DeadLettered,
     "no or unknown message_type, or not an object"},
    {Reason::SchemaViolation, "schema_violation", Outcome::DeadLettered, "its message type's schema refuses it"},
    {Reason::NoRoute, "no_route", Outcome::DeadLettered, "no route matches its channel and message type"},
    {Reason::ForwardRejected, "forward_rejected", Outcome::DeadLettered,
     "the destination refuses it as it is (too large, invalid, an HTTP 4xx)"},
    {Reason::RetriesExhausted, "retries_exhausted", Outcome::DeadLettered, "it failed in every retry tier"},
    {Reason::OutputRefused, "output_refused", Outcome::DeadLettered,
     "its retry-tier record or rejected copy is refused as it is"},
    {Reason::PredecessorDeadLettered, "predecessor_dead_lettered", Outcome::DeadLettered,
     "parked behind an earlier record of its key that was dead-lettered (retry.after_dead_letter: dead_letter)"},
}};

constexpr const ReasonInfo& reason_info(Reason reason) { return kReasons[static_cast<size_t>(reason)]; }
constexpr std::string_view reason_label(Reason reason) { return reason_info(reason).label; }
constexpr Outcome outcome_of(Reason reason) { return reason_info(reason).outcome; }
std::optional<Reason> reason_by_label(std::string_view label);

// A reason equals its label, as written in DLQ records and metric labels.
constexpr bool operator==(Reason reason, std::string_view label) { return reason_label(reason) == label; }
inline std::ostream& operator<<(std::ostream& out, Reason reason) { return out << reason_label(reason); }

// The stage names sluice itself gives (the CPU stages name theirs: size, parse, schema,
// filter); a DLQ record's `error_stage`.
namespace stage_name {
inline constexpr std::string_view kRoute = "route";
inline constexpr std::string_view kForward = "forward";
inline constexpr std::string_view kRetry = "retry";
inline constexpr std::string_view kFilter = "filter";
}  // namespace stage_name

}  // namespace sluice
