#pragma once
// Which keys differ between two loaded configs: what a reload compares to tell the keys it can
// apply from those that need a restart. Only key paths are reported, never values (some are
// secrets).
//
// Pure functions over immutable configs; any thread.

#include <string>
#include <vector>

#include "config/config.h"

namespace sluice::config {

// The paths of every key whose effective value differs, in key-table order. A key under a
// list of objects is named with its index ("routes[1].http.url"); a list whose length changed
// is named once ("routes").
std::vector<std::string> changed_keys(const Config& before, const Config& after);

// True for the keys a reload applies without a restart: the schemas directory, the blocked
// senders file and the spam keywords (what the stage chain's resources are built from).
bool reloadable_key(const std::string& path);

}  // namespace sluice::config
