#pragma once
// The pieces of a chaos report both runs print: checks, the accounting of every input record
// (as text rows and as JSON members), and the text row format.

#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "chaos/accounting.h"

namespace sluice::chaos {

struct Check {
  std::string name;
  bool ok = false;
  std::string detail;
};

bool all_ok(const std::vector<Check>& checks);

// A finished run's report: text for stdout, JSON for --report-json, and the verdict.
struct RunReport {
  std::string text;
  std::string json;
  bool passed = false;
};

std::string json_escape(const std::string& text);

// The crashes a daemon's log reports: unexpected exits other than status 1 (sluice's answer
// to a fatal client error; a signal is a crash), and the first line of each sanitizer or
// assertion report, each followed by "; ".
std::string crashes_in(const std::vector<std::string>& unexpected_exits, const std::string& logs);
// The last `lines` lines of a log.
std::string log_tail(const std::string& logs, int lines);

// "  label ......... value" rows, indented by `indent` spaces.
void text_row(std::ostream& out, const std::string& label, double value, int indent = 2);
void text_row(std::ostream& out, const std::string& label, size_t value, int indent = 2);

// "records in", the outcomes, the redeliveries and the out-of-retries errors.
void accounting_text(std::ostream& out, const Accounting& accounting);
// "checks:" with one line each, then "lost: N" and the RESULT line.
void checks_text(std::ostream& out, const std::vector<Check>& checks, const Accounting& accounting, bool passed);

// JSON members (each line ends with ",\n"): records_in, outcomes, lost, lost_examples,
// redelivered, out_of_retries_by_error.
void accounting_json(std::ostream& out, const Accounting& accounting);
// A JSON object's members from a map: "name": count, ...
void counts_json(std::ostream& out, const std::map<std::string, size_t>& counts);
// The "checks" array and "passed" (the object's last members).
void checks_json(std::ostream& out, const std::vector<Check>& checks, bool passed);

}  // namespace sluice::chaos
