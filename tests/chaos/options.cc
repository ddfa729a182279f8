#include "chaos/options.h"

#include <cstdlib>
#include <iostream>
#include <stdexcept>

namespace sluice::chaos {

const char kUsage[] =
    "usage: sluice-chaos [--messages N] [--kills K] [--dedup sqlite|redis] [--seed S]\n"
    "                    [--report-json FILE] [--max-minutes M]\n"
    "       sluice-chaos --scale-out [--instances N] [--retry-ordering key|none] [--messages N]\n"
    "                    [--kills K] [--seed S] [--report-json FILE] [--max-minutes M]\n"
    "  --messages N      records of the realistic mix to feed (default 100000)\n"
    "  --kills K         kill -9 sluice at least K times at random moments (default 5;\n"
    "                    with --scale-out: kill -9 one instance K times, default 1)\n"
    "  --dedup B         dedup backend: sqlite (default) or redis (a private redis-server,\n"
    "                    restarted during the run)\n"
    "  --seed S          seed of the mix and of every random choice (default: random, printed)\n"
    "  --report-json F   also write the report as JSON to F\n"
    "  --max-minutes M   fail when the run takes longer (default 60)\n"
    "  --scale-out       the scale-out run instead: N instances in one consumer group with\n"
    "                    shared Redis dedup, a rolling restart (SIGTERM, one at a time), kill -9\n"
    "                    of an instance, then the accounting and the order of every key\n"
    "  --instances N     instances of the scale-out run (default 3)\n"
    "  --retry-ordering O  retry.ordering of the scale-out run: key (default; a key-order\n"
    "                    violation fails the run) or none (violations are reported only)\n"
    "Exit status: 0 nothing lost and every check passed, 1 otherwise, 2 usage error.\n";

std::optional<Options> parse_options(int argc, char** argv, std::string* error) {
  Options options;
  bool kills_given = false;
  bool dedup_given = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    size_t equals = arg.find('=');
    bool inline_value = arg.rfind("--", 0) == 0 && equals != std::string::npos;
    if (inline_value) {
      value = arg.substr(equals + 1);
      arg = arg.substr(0, equals);
    }
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      std::exit(0);
    }
    if (arg == "--scale-out" && !inline_value) {
      options.scale_out = true;
      continue;
    }
    if (!inline_value) {
      if (i + 1 >= argc) {
        *error = arg + " needs a value";
        return std::nullopt;
      }
      value = argv[++i];
    }
    try {
      size_t used = 0;
      if (arg == "--messages") {
        options.messages = std::stoi(value, &used);
        if (options.messages < 100) throw std::invalid_argument("at least 100");
      } else if (arg == "--kills") {
        options.kills = std::stoi(value, &used);
        if (options.kills < 0) throw std::invalid_argument("not negative");
        kills_given = true;
      } else if (arg == "--dedup") {
        if (value != "sqlite" && value != "redis") throw std::invalid_argument("sqlite or redis");
        options.dedup = value;
        dedup_given = true;
        used = value.size();
      } else if (arg == "--seed") {
        options.seed = std::stoull(value, &used);
      } else if (arg == "--report-json") {
        options.report_json = value;
        used = value.size();
      } else if (arg == "--max-minutes") {
        options.max_minutes = std::stod(value, &used);
        if (!(options.max_minutes > 0)) throw std::invalid_argument("positive");
      } else if (arg == "--instances") {
        options.instances = std::stoi(value, &used);
        if (options.instances < 2 || options.instances > 8) throw std::invalid_argument("2 to 8");
      } else if (arg == "--retry-ordering") {
        if (value != "key" && value != "none") throw std::invalid_argument("key or none");
        options.retry_ordering = value;
        used = value.size();
      } else {
        *error = "unknown option " + arg;
        return std::nullopt;
      }
      if (used != value.size()) throw std::invalid_argument("trailing characters");
    } catch (const std::exception& e) {
      *error = arg + ": invalid value \"" + value + "\" (" + e.what() + ")";
      return std::nullopt;
    }
  }
  if (options.scale_out) {
    // Shared dedup is what lets an instance's successor know what the group forwarded.
    if (dedup_given && options.dedup != "redis") {
      *error = "--scale-out runs with --dedup redis only";
      return std::nullopt;
    }
    options.dedup = "redis";
    if (!kills_given) options.kills = 1;
  }
  return options;
}

}  // namespace sluice::chaos
