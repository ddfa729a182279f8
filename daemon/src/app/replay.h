#pragma once
// `sluice replay`: re-drives DLQ records back into the pipeline.
//
// It reads the source topic from the beginning up to the end offsets it finds at start (so a
// replay into the topic it reads can never loop), decodes each record — a raw one (header
// sluice-dlq-format: raw) from its headers, any other as an envelope — applies the filters,
// and produces the original value, key and headers (without sluice's failure and retry
// headers) to the record's original topic (or --to) with `sluice-replay-count` incremented. Records already replayed `max_replays` times are
// skipped and reported (loop guard), as are envelopes whose original was truncated.
//
// Exit codes: 0 every selected record was replayed (or would be, with --dry-run);
// 1 a delivery or read failed; 2 usage or configuration error; 3 finished, but some selected
// records were skipped by the loop guard or could not be replayed (truncated originals).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"

namespace sluice::app {

struct ReplayOptions {
  std::string from_topic;
  std::string to_topic;                                     // empty: each record's original_topic
  std::vector<std::pair<std::string, std::string>> where;  // error_stage=…, reason=…, original_topic=…
  std::optional<std::chrono::system_clock::time_point> since;
  std::optional<std::chrono::system_clock::time_point> until;
  int64_t limit = -1;   // -1: no limit
  double rate = 0;      // records per second; 0: unlimited
  bool dry_run = false;
  int max_replays = 3;
};

struct ReplaySummary {
  int64_t scanned = 0;
  int64_t selected = 0;     // matched the filters
  int64_t replayed = 0;     // produced and acknowledged (or would be, in a dry run)
  int64_t loop_guarded = 0; // skipped: already replayed max_replays times
  int64_t unreplayable = 0; // skipped: not an envelope, or its original was truncated
  int64_t failed = 0;       // produce failures
};

// Parses `replay` arguments (after the command name). Returns an error message or "".
std::string parse_replay_arguments(const std::vector<std::string>& args, std::string& config_path,
                                   ReplayOptions& options);

int run_replay(const config::Config& config, const ReplayOptions& options, ReplaySummary* summary = nullptr);

}  // namespace sluice::app
