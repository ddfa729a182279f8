#pragma once
// Turns a YAML file into a validated, immutable Config, driven by the key table
// (key_table.h): keys missing from the file take the table's defaults, unknown keys are
// errors, and ${VAR} references in values are substituted after parsing (env_subst.h).
//
// Every problem is reported, never just the first, each as one line
//   FILE:LINE:COL: key.path: what is wrong
// with 1-based line and column, sorted by position. A YAML syntax error stops the load with
// "FILE:LINE:COL: yaml: <message>"; an unreadable file with "FILE: cannot read: <reason>".
// Relative paths in a file resolve against the file's directory (config_files.h).
//
// Loading runs at startup and on reload, on whichever thread asks; it holds no state between
// calls. Nothing here logs: the caller decides what to do with the errors.

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "config/env_subst.h"
#include "config/key_table.h"
#include "config/validate.h"

namespace sluice::config {

// A check that needs more than the Config (librdkafka, URL parsing, the stage resources),
// supplied by the layers that own those. It runs after the loader's own checks, also when
// they found errors (so one run reports everything); each Problem names a key path, which the
// loader places at that key's FILE:LINE:COL.
using ExtraCheck = std::function<void(const Config& config, std::vector<Problem>& problems)>;

struct LoadOptions {
  // Relative paths (keys flagged `path`, file-valued librdkafka properties) resolve against
  // this directory; "" leaves them relative to the working directory. load_file sets it to
  // the file's directory.
  std::string base_dir;
  std::vector<ExtraCheck> checks;
};

struct LoadResult {
  std::shared_ptr<const Config> config;  // set only when `errors` is empty
  std::vector<std::string> errors;

  bool ok() const { return config != nullptr; }
};

// Files larger than kMaxConfigFileBytes (config_files.h) are refused before they are read.
LoadResult load_file(const std::string& path, const EnvLookup& env, const LoadOptions& options = {});
// `source_name` stands for the file name in errors and in Config::source_path.
LoadResult load_string(std::string_view yaml, std::string_view source_name, const EnvLookup& env,
                       const LoadOptions& options = {});
// Every key at its default, without a file; errors are reported against "<defaults>".
LoadResult load_defaults(const EnvLookup& env, const LoadOptions& options = {});

// load_string against another table. The daemon always uses key_table(); this exists so tests
// can exercise key types and flags that no current key has.
LoadResult load_string_with_table(const KeyTable& table, std::string_view yaml, std::string_view source_name,
                                  const EnvLookup& env);

}  // namespace sluice::config
