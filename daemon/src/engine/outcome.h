#pragma once
// The final outcomes a consumed record can reach. An input offset is committed only once its
// record has one of them (and any record it produced for it is acknowledged).

#include <cstddef>
#include <string_view>

namespace sluice::engine {

enum class Outcome { Forwarded, Filtered, Duplicate, Retry, DeadLettered };
constexpr size_t kOutcomeCount = 5;

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

// Stage names and reasons the engine itself assigns (the CPU stages name theirs).
namespace reason {
inline constexpr std::string_view kForwarded = "delivered";
inline constexpr std::string_view kDuplicate = "seen_within_window";
inline constexpr std::string_view kNoRoute = "no_route";
inline constexpr std::string_view kForwardRejected = "forward_rejected";
inline constexpr std::string_view kTransient = "transient_error";
inline constexpr std::string_view kRetriesExhausted = "retries_exhausted";
// A retry-tier record or a rejected_topic copy that the broker refuses for what it is (e.g.
// too large for that topic): the record goes to the DLQ instead of being tried forever.
inline constexpr std::string_view kOutputRefused = "output_refused";
}  // namespace reason

namespace stage_name {
inline constexpr std::string_view kRoute = "route";
inline constexpr std::string_view kForward = "forward";
inline constexpr std::string_view kRetry = "retry";
inline constexpr std::string_view kFilter = "filter";
}  // namespace stage_name

}  // namespace sluice::engine
