#include "app/cli.h"

#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "app/config_checks.h"
#include "app/daemon.h"
#include "app/replay.h"
#include "common/version.h"
#include "config/loader.h"
#include "config/reference.h"
#include "fingerprint/fingerprint.h"
#include "json/json_parser.h"

namespace sluice::app {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

constexpr const char* kUsage =
    "usage: sluice <command> [options]\n"
    "\n"
    "commands:\n"
    "  run [--config FILE]           run the daemon (embedded defaults without --config)\n"
    "  check-config [--config FILE]  validate a config file and everything it points to;\n"
    "                                exit 0 when valid, 2 with every error as FILE:LINE:COL: key: why\n"
    "  fingerprint                   read one JSON message on stdin, print its dedup fingerprint (hex)\n"
    "  replay --from TOPIC [--config FILE] [--to TOPIC] [--where error_stage=S|reason=R|original_topic=T]...\n"
    "         [--since TIME] [--until TIME] [--limit N] [--rate N/s] [--max-replays N] [--dry-run]\n"
    "                                re-drive DLQ records to their original topic (TIME: RFC 3339 or a\n"
    "                                duration ago, e.g. 2h); exit 0 done, 1 failures, 2 usage,\n"
    "                                3 some records skipped (loop guard or truncated originals)\n"
    "  config-reference              print the table of every config key (Markdown)\n"
    "\n"
    "options:\n"
    "  --version                     print the version\n"
    "  --help                        print this help\n";

struct Arguments {
  std::string command;
  std::string config_path;
  bool ok = true;
  std::string error;
};

Arguments parse_arguments(int argc, char** argv) {
  Arguments arguments;
  std::vector<std::string_view> args(argv + 1, argv + argc);
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg == "--config" || arg == "-c") {
      if (i + 1 >= args.size()) {
        arguments.ok = false;
        arguments.error = "--config needs a file";
        return arguments;
      }
      arguments.config_path = args[++i];
    } else if (arg.starts_with("--config=")) {
      arguments.config_path = arg.substr(9);
    } else if (arg == "--help" || arg == "-h") {
      arguments.command = "help";
    } else if (arg == "--version") {
      arguments.command = "version";
    } else if (!arg.starts_with("-") && arguments.command.empty()) {
      arguments.command = arg;
    } else {
      arguments.ok = false;
      arguments.error = "unexpected argument: " + std::string(arg);
      return arguments;
    }
  }
  return arguments;
}

config::LoadResult load_config(const std::string& path) {
  config::EnvLookup env = config::process_env();
  return path.empty() ? config::load_defaults(env) : config::load_file(path, env);
}

int print_errors(const std::vector<std::string>& errors) {
  for (const std::string& error : errors) std::cerr << error << "\n";
  return kExitUsage;
}

// The same load as `run`, so that whatever run would refuse is refused here too.
int check_config(const std::string& path) {
  config::LoadResult loaded = load_checked_config(path, config::process_env());
  if (!loaded.ok()) return print_errors(loaded.errors);
  std::cout << (path.empty() ? "embedded defaults" : path) << ": ok\n";
  return kExitOk;
}

int fingerprint_stdin() {
  std::string input(std::istreambuf_iterator<char>(std::cin), {});
  json::JsonParser parser(/*max_depth=*/512);
  json::ParsedDocument document;
  json::ParseOutcome parsed = parser.parse(input, document);
  if (!parsed.ok) {
    std::cerr << "sluice fingerprint: invalid message: " << parsed.error << "\n";
    return kExitUsage;
  }
  fingerprint::Fingerprinter fingerprinter;
  std::cout << fingerprinter.compute(document, input).hex() << "\n";
  return kExitOk;
}

int replay_command(int argc, char** argv) {
  std::vector<std::string> args(argv + 2, argv + argc);
  std::string config_path;
  ReplayOptions options;
  std::string error = parse_replay_arguments(args, config_path, options);
  if (!error.empty()) {
    std::cerr << "sluice replay: " << error << "\n\n" << kUsage;
    return kExitUsage;
  }
  config::LoadResult loaded = load_config(config_path);
  if (!loaded.ok()) return print_errors(loaded.errors);
  return run_replay(*loaded.config, options);
}

}  // namespace

int run_cli(int argc, char** argv) {
  if (argc >= 2 && std::string_view(argv[1]) == "replay") return replay_command(argc, argv);
  Arguments arguments = parse_arguments(argc, argv);
  if (!arguments.ok) {
    std::cerr << "sluice: " << arguments.error << "\n\n" << kUsage;
    return kExitUsage;
  }
  const std::string& command = arguments.command;
  if (command == "help") {
    std::cout << kUsage;
    return kExitOk;
  }
  if (command == "version") {
    std::cout << "sluice " << SLUICE_VERSION << "\n";
    return kExitOk;
  }
  if (command == "run") {
    // Every configuration error stops here with exit 2, before anything connects.
    config::LoadResult loaded = load_checked_config(arguments.config_path, config::process_env());
    if (!loaded.ok()) return print_errors(loaded.errors);
    return run_daemon(loaded.config);
  }
  if (command == "check-config") return check_config(arguments.config_path);
  if (command == "fingerprint") return fingerprint_stdin();
  if (command == "config-reference") {
    std::cout << config::render_reference_markdown();
    return kExitOk;
  }
  std::cerr << (command.empty() ? std::string("sluice: a command is needed") : "sluice: unknown command: " + command)
            << "\n\n"
            << kUsage;
  return kExitUsage;
}

}  // namespace sluice::app
