#pragma once
// sluice-chaos' command line: the options of the chaos run and of the scale-out run.

#include <cstdint>
#include <optional>
#include <string>

namespace sluice::chaos {

struct Options {
  int messages = 100000;
  int kills = 5;  // the scale-out run's default is 1 (see parse_options)
  std::string dedup = "sqlite";
  std::optional<uint64_t> seed;
  std::string report_json;
  double max_minutes = 60;
  // The scale-out run: several instances in one group, a rolling restart and kill -9.
  bool scale_out = false;
  int instances = 3;
  std::string retry_ordering = "key";  // written as retry.ordering unless "none"
};

extern const char kUsage[];

// The options, or nullopt with *error set. Exits 0 after printing the usage for --help.
std::optional<Options> parse_options(int argc, char** argv, std::string* error);

}  // namespace sluice::chaos
