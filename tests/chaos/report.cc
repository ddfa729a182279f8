#include "chaos/report.h"

#include <algorithm>
#include <cstdio>

namespace sluice::chaos {

bool all_ok(const std::vector<Check>& checks) {
  return std::all_of(checks.begin(), checks.end(), [](const Check& check) { return check.ok; });
}

std::string json_escape(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\u%04x", c);
      out += buffer;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string crashes_in(const std::vector<std::string>& unexpected_exits, const std::string& logs) {
  std::string crashes;
  for (const std::string& exit : unexpected_exits) {
    if (exit.find("exit status 1 ") == std::string::npos) crashes += exit + "; ";
  }
  // Sanitizer reports, a broken invariant (SLUICE_ASSERT), librdkafka's and the C library's
  // assertions, and an uncaught exception.
  for (const char* marker : {"AddressSanitizer", "LeakSanitizer", "runtime error:", "assertion failed", "invariant broken",
                             ": assert: ", "Assertion `", "terminate called"}) {
    size_t at = logs.find(marker);
    if (at != std::string::npos) crashes += logs.substr(at, logs.find('\n', at) - at) + "; ";
  }
  return crashes;
}

std::string log_tail(const std::string& logs, int lines) {
  size_t from = logs.size();
  for (int line = 0; line < lines && from > 0 && from != std::string::npos; ++line) from = logs.rfind('\n', from - 1);
  return logs.substr(from == std::string::npos ? 0 : from);
}

void text_row(std::ostream& out, const std::string& label, double value, int indent) {
  char line[256];
  std::snprintf(line, sizeof line, "%*s%-*s %9.1f\n", indent, "", 44 - indent, label.c_str(), value);
  out << line;
}

void text_row(std::ostream& out, const std::string& label, size_t value, int indent) {
  char line[256];
  std::snprintf(line, sizeof line, "%*s%-*s %9zu\n", indent, "", 44 - indent, label.c_str(), value);
  out << line;
}

void accounting_text(std::ostream& out, const Accounting& a) {
  text_row(out, "records in", a.records_in, 0);
  for (size_t i = 0; i < static_cast<size_t>(Outcome::Count); ++i) {
    text_row(out, outcome_name(static_cast<Outcome>(i)), a.outcomes[i]);
  }
  out << "redelivered (at-least-once):\n";
  text_row(out, "duplicate deliveries to the topic", a.duplicate_deliveries_topic);
  text_row(out, "duplicate deliveries over HTTP", a.duplicate_deliveries_http);
  text_row(out, "repeated DLQ records", a.repeated_dead_letters);
  text_row(out, "repeated rejected records", a.repeated_rejections);
  text_row(out, "delivered, and also out of retries", a.delivered_and_exhausted);
  if (!a.exhausted_by_detail.empty()) {
    out << "out of retries, by last error:\n";
    for (const auto& [detail, count] : a.exhausted_by_detail) text_row(out, detail, count);
  }
}

void checks_text(std::ostream& out, const std::vector<Check>& checks, const Accounting& accounting, bool passed) {
  out << "checks:\n";
  for (const Check& check : checks) {
    out << "  [" << (check.ok ? " ok " : "FAIL") << "] " << check.name;
    if (!check.ok && !check.detail.empty()) out << ": " << check.detail;
    out << "\n";
  }
  out << "lost: " << accounting.lost() << "\n";
  out << (passed ? "RESULT: PASS\n" : "RESULT: FAIL\n");
}

void accounting_json(std::ostream& out, const Accounting& a) {
  out << "  \"records_in\": " << a.records_in << ",\n  \"outcomes\": {";
  const char* keys[] = {"forwarded_topic", "forwarded_http", "duplicate", "filtered",
                        "dead_letter_bad_data", "dead_letter_retries_exhausted", "lost"};
  for (size_t i = 0; i < static_cast<size_t>(Outcome::Count); ++i) {
    out << (i ? ", " : "") << "\"" << keys[i] << "\": " << a.outcomes[i];
  }
  out << "},\n  \"lost\": " << a.lost() << ",\n  \"lost_examples\": [";
  for (size_t i = 0; i < a.lost_examples.size(); ++i) out << (i ? ", " : "") << "\"" << json_escape(a.lost_examples[i]) << "\"";
  out << "],\n  \"redelivered\": {\"topic\": " << a.duplicate_deliveries_topic << ", \"http\": " << a.duplicate_deliveries_http
      << ", \"dlq\": " << a.repeated_dead_letters << ", \"rejected\": " << a.repeated_rejections
      << ", \"delivered_and_out_of_retries\": " << a.delivered_and_exhausted << "},\n  \"out_of_retries_by_error\": {";
  counts_json(out, a.exhausted_by_detail);
  out << "},\n";
}

void counts_json(std::ostream& out, const std::map<std::string, size_t>& counts) {
  bool first = true;
  for (const auto& [name, count] : counts) {
    out << (first ? "" : ", ") << "\"" << json_escape(name) << "\": " << count;
    first = false;
  }
}

void checks_json(std::ostream& out, const std::vector<Check>& checks, bool passed) {
  out << "  \"checks\": [";
  for (size_t i = 0; i < checks.size(); ++i) {
    const Check& check = checks[i];
    out << (i ? "," : "") << "\n    {\"name\": \"" << json_escape(check.name) << "\", \"ok\": " << (check.ok ? "true" : "false")
        << ", \"detail\": \"" << json_escape(check.detail) << "\"}";
  }
  out << "\n  ],\n  \"passed\": " << (passed ? "true" : "false") << "\n}\n";
}

}  // namespace sluice::chaos
