#include "engine/trace_context.h"

#include <vector>

namespace sluice::engine {
namespace {

constexpr size_t kVersionLength = 2;
constexpr size_t kTraceIdLength = 32;
constexpr size_t kParentIdLength = 16;
constexpr size_t kFlagsLength = 2;
// "vv-" + trace-id + "-" + parent-id + "-" + flags
constexpr size_t kTraceparentLength = kVersionLength + 1 + kTraceIdLength + 1 + kParentIdLength + 1 + kFlagsLength;

bool is_lower_hex(std::string_view text) {
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool all_zeros(std::string_view text) { return text.find_first_not_of('0') == std::string_view::npos; }

}  // namespace

std::string_view trace_id_of(std::string_view traceparent) {
  if (traceparent.size() < kTraceparentLength) return {};
  const std::string_view version = traceparent.substr(0, kVersionLength);
  if (!is_lower_hex(version) || version == "ff") return {};
  // Version 00 is exactly four fields; a later one may carry more after a '-'.
  if (traceparent.size() > kTraceparentLength && (version == "00" || traceparent[kTraceparentLength] != '-')) return {};
  const size_t trace_at = kVersionLength + 1;
  const size_t parent_at = trace_at + kTraceIdLength + 1;
  const size_t flags_at = parent_at + kParentIdLength + 1;
  if (traceparent[trace_at - 1] != '-' || traceparent[parent_at - 1] != '-' || traceparent[flags_at - 1] != '-') {
    return {};
  }
  const std::string_view trace_id = traceparent.substr(trace_at, kTraceIdLength);
  const std::string_view parent_id = traceparent.substr(parent_at, kParentIdLength);
  if (!is_lower_hex(trace_id) || !is_lower_hex(parent_id) || !is_lower_hex(traceparent.substr(flags_at, kFlagsLength))) {
    return {};
  }
  if (all_zeros(trace_id) || all_zeros(parent_id)) return {};
  return trace_id;
}

std::string_view record_trace_id(const kafka::Message& message) {
  if (!message) return {};
  std::optional<std::string_view> traceparent = message.last_header(kTraceparentHeader);
  return traceparent ? trace_id_of(*traceparent) : std::string_view();
}

void log_record(log::Level level, std::string_view msg, const kafka::Message& message, log::Fields fields) {
  if (!log::enabled(level)) return;
  std::vector<log::Field> all(fields);
  if (std::string_view trace_id = record_trace_id(message); !trace_id.empty()) all.emplace_back("trace_id", trace_id);
  log::write(level, msg, all);
}

}  // namespace sluice::engine
