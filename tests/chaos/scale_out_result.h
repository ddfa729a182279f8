#pragma once
// What the scale-out run (scale_out.h) found, and its report as text and as JSON.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "chaos/accounting.h"
#include "chaos/options.h"
#include "chaos/order_check.h"
#include "chaos/report.h"

namespace sluice::chaos {

// One step of the operator: a graceful restart (SIGTERM) or a kill -9, and how it went.
struct ActionResult {
  bool kill = false;
  std::string instance;
  double restart_delay_seconds = 0;  // kill: from the kill to the replacement's start
  std::optional<int> exit_status;    // SIGTERM: the exit status (-1: killed after the timeout)
  double exit_seconds = -1;          // from the action's start; -1: never
  double ready_seconds = -1;         // the replacement's /readyz answered 200; -1: never
};

struct ScaleOutResult {
  uint64_t seed = 0;
  Options options;
  double run_seconds = 0;
  double operate_seconds = 0;
  double recovery_seconds = 0;
  Accounting accounting;
  OrderReport order;
  std::vector<ActionResult> actions;
  std::vector<std::pair<std::string, int>> final_exits;  // instance, status after the final SIGTERM
  std::map<std::string, size_t> faults;                  // by kind
  std::map<std::string, size_t> tier_records;
  std::map<std::string, size_t> commits;  // offset commits by result, every instance's runs that stopped
  std::vector<std::string> unexpected_exits;
  std::vector<Check> checks;
};

RunReport render_scale_out(const ScaleOutResult& result);

}  // namespace sluice::chaos
