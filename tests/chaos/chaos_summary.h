#pragma once
// What a chaos run (chaos_main.cc) found, and its report as text and as JSON.

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "chaos/accounting.h"
#include "chaos/options.h"
#include "chaos/report.h"

namespace sluice::chaos {

struct Summary {
  uint64_t seed = 0;
  Options options;
  Accounting accounting;
  int kills = 0;
  std::map<std::string, size_t> faults;  // by kind
  std::vector<std::string> unexpected_exits;
  std::map<std::string, size_t> tier_records;
  size_t http_requests = 0;
  size_t http_deliveries = 0;
  double seconds = 0;
  double active_seconds = 0;
  double recovery_seconds = 0;
  double longest_stall_seconds = 0;  // records waiting and the committed offsets not moving
  std::vector<Check> checks;
  bool passed() const {
    return accounting.lost() == 0 && all_ok(checks);
  }
};

std::string render_text(const Summary& summary);
std::string render_json(const Summary& summary);

}  // namespace sluice::chaos
