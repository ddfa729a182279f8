#include "chaos/chaos_summary.h"

#include <cstdio>
#include <sstream>

namespace sluice::chaos {

std::string render_text(const Summary& summary) {
  std::ostringstream out;
  char line[256];
  out << "== sluice chaos report ==\n";
  std::snprintf(line, sizeof line, "seed %llu, dedup %s, run time %.1f s (chaos %.1f s, recovery %.1f s)\n",
                static_cast<unsigned long long>(summary.seed), summary.options.dedup.c_str(), summary.seconds,
                summary.active_seconds, summary.recovery_seconds);
  out << line;
  accounting_text(out, summary.accounting);
  out << "faults injected:\n";
  text_row(out, "kill -9 of sluice", static_cast<size_t>(summary.kills));
  for (const auto& [kind, count] : summary.faults) text_row(out, kind, count);
  text_row(out, "sluice exits by itself", summary.unexpected_exits.size());
  text_row(out, "longest time without committed progress (s)", summary.longest_stall_seconds);
  out << "traffic:\n";
  text_row(out, "HTTP requests received", summary.http_requests);
  text_row(out, "HTTP requests answered 2xx", summary.http_deliveries);
  for (const auto& [topic, count] : summary.tier_records) text_row(out, "records in " + topic, count);
  checks_text(out, summary.checks, summary.accounting, summary.passed());
  return out.str();
}

std::string render_json(const Summary& summary) {
  std::ostringstream out;
  out << "{\n  \"seed\": " << summary.seed << ",\n  \"dedup\": \"" << summary.options.dedup << "\",\n"
      << "  \"messages\": " << summary.options.messages << ",\n  \"planned_kills\": " << summary.options.kills << ",\n"
      << "  \"run_seconds\": " << summary.seconds << ",\n  \"chaos_seconds\": " << summary.active_seconds << ",\n"
      << "  \"recovery_seconds\": " << summary.recovery_seconds << ",\n";
  accounting_json(out, summary.accounting);
  out << "  \"kills\": " << summary.kills << ",\n  \"faults\": {";
  counts_json(out, summary.faults);
  out << "},\n  \"unexpected_exits\": [";
  for (size_t i = 0; i < summary.unexpected_exits.size(); ++i) {
    out << (i ? ", " : "") << "\"" << json_escape(summary.unexpected_exits[i]) << "\"";
  }
  out << "],\n  \"http_requests\": " << summary.http_requests << ",\n  \"http_deliveries\": " << summary.http_deliveries
      << ",\n  \"longest_stall_seconds\": " << summary.longest_stall_seconds << ",\n  \"tier_records\": {";
  counts_json(out, summary.tier_records);
  out << "},\n";
  checks_json(out, summary.checks, summary.passed());
  return out.str();
}

}  // namespace sluice::chaos
