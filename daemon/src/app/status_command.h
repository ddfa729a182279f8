#pragma once
// `sluice status`: asks a running daemon's admin server for /status and prints it as
// tables (partitions, destinations, totals) for a terminal.

#include <iosfwd>
#include <string>
#include <vector>

#include "common/status_snapshot.h"

namespace sluice::app {

// What `sluice status --help` prints.
extern const char* const kStatusUsage;

// args: what follows "status" on the command line. Returns the exit code: 0 printed, 1 the
// daemon could not be asked or gave no status, 2 usage.
int status_command(const std::vector<std::string>& args);

// The tables for `snapshot`; `now_ms` (epoch) dates the snapshot ("3s ago").
void print_status(std::ostream& out, const StatusSnapshot& snapshot, int64_t now_ms);

}  // namespace sluice::app
