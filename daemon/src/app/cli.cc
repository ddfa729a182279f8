#include "app/cli.h"

#include <librdkafka/rdkafka.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "app/config_checks.h"
#include "app/daemon.h"
#include "app/replay.h"
#include "app/status_command.h"
#include "common/assert.h"
#include "common/git_revision.h"
#include "common/version.h"
#include "config/loader.h"
#include "config/reference.h"
#include "fingerprint/fingerprint.h"
#include "json/json_parser.h"
#include "metrics/metrics.h"

namespace sluice::app {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitUsage = 2;

// What `sluice <command> --help` prints; the overview lists each command's first line.
struct Command {
  const char* name;
  const char* summary;  // one line for `sluice --help`
  const char* usage;    // the whole text for `sluice <name> --help`
  int (*handler)(const std::vector<std::string>& args);
};

const std::vector<Command>& commands();

std::string overview() {
  std::string text = "usage: sluice <command> [options]\n\ncommands:\n";
  size_t width = 0;
  for (const Command& command : commands()) width = std::max(width, std::string_view(command.name).size() + 2);
  for (const Command& command : commands()) {
    std::string name = command.name;
    text += "  " + name + std::string(width - name.size(), ' ') + command.summary + "\n";
  }
  text +=
      "\nsluice <command> --help prints a command's options.\n"
      "\noptions:\n"
      "  --version         print the version, the git revision built from and the librdkafka version\n"
      "  --help            print this help\n"
      "\nexit codes: 0 success; 1 a runtime failure; 2 usage or configuration errors\n";
  return text;
}

int usage_error(const Command& command, const std::string& error) {
  std::cerr << "sluice " << command.name << ": " << error << "\n\n" << command.usage;
  return kExitUsage;
}

// The options of run and check-config: just --config FILE (or --config=FILE, -c FILE).
bool parse_config_option(const std::vector<std::string>& args, std::string& config_path, std::string& error) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--config" || arg == "-c") {
      if (i + 1 >= args.size()) {
        error = "--config needs a file";
        return false;
      }
      config_path = args[++i];
    } else if (arg.starts_with("--config=")) {
      config_path = arg.substr(9);
    } else {
      error = "unexpected argument: " + arg;
      return false;
    }
  }
  return true;
}

int print_errors(const std::vector<std::string>& errors) {
  for (const std::string& error : errors) std::cerr << error << "\n";
  return kExitUsage;
}

// The same load as `run`, so that whatever run would refuse is refused here too.
int check_config(const std::string& path) {
  CheckedConfig checked = load_checked_config(path, config::process_env());
  if (!checked.ok()) return print_errors(checked.loaded.errors);
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

const Command& command_named(std::string_view name);

int run_command(const std::vector<std::string>& args) {
  std::string config_path;
  std::string error;
  if (!parse_config_option(args, config_path, error)) return usage_error(command_named("run"), error);
  // Every configuration error stops here with exit 2, before anything connects.
  CheckedConfig checked = load_checked_config(config_path, config::process_env());
  if (!checked.ok()) return print_errors(checked.loaded.errors);
  return run_daemon(checked.loaded.config, checked.resources);
}

int check_config_command(const std::vector<std::string>& args) {
  std::string config_path;
  std::string error;
  if (!parse_config_option(args, config_path, error)) return usage_error(command_named("check-config"), error);
  return check_config(config_path);
}

int fingerprint_command(const std::vector<std::string>& args) {
  if (!args.empty()) return usage_error(command_named("fingerprint"), "unexpected argument: " + args.front());
  return fingerprint_stdin();
}

int replay_command(const std::vector<std::string>& args) {
  std::string config_path;
  ReplayOptions options;
  std::string error = parse_replay_arguments(args, config_path, options);
  if (!error.empty()) return usage_error(command_named("replay"), error);
  CheckedConfig checked = load_checked_config(config_path, config::process_env());
  if (!checked.ok()) return print_errors(checked.loaded.errors);
  return run_replay(*checked.loaded.config, options);
}

int config_reference_command(const std::vector<std::string>& args) {
  if (!args.empty()) return usage_error(command_named("config-reference"), "unexpected argument: " + args.front());
  std::cout << config::render_reference_markdown();
  return kExitOk;
}

int metrics_reference_command(const std::vector<std::string>& args) {
  if (!args.empty()) return usage_error(command_named("metrics-reference"), "unexpected argument: " + args.front());
  std::cout << metrics::render_metrics_reference();
  return kExitOk;
}

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      {"run", "run the daemon (embedded defaults without --config)",
       "usage: sluice run [--config FILE]\n"
       "\n"
       "Runs the daemon until SIGTERM or SIGINT; SIGHUP reloads the blocked senders, spam keywords\n"
       "and schemas. Without --config it runs on the embedded defaults (a local broker, SQLite dedup).\n"
       "\n"
       "  -c, --config FILE   the YAML config file\n"
       "\n"
       "Before consuming it checks that every topic it reads or writes exists (kafka.create_topics:\n"
       "true creates the missing ones).\n"
       "\n"
       "exit codes: 0 stopped cleanly; 1 a runtime failure (also: no broker answered the topic check);\n"
       "2 a configuration error (every one printed), or topics it needs missing (every one named)\n",
       run_command},
      {"check-config", "validate a config file and everything it points to",
       "usage: sluice check-config [--config FILE]\n"
       "\n"
       "Loads the config exactly as `sluice run` would, with the files it names (schemas, blocked\n"
       "senders, TLS files) and the Kafka client properties, without connecting anywhere.\n"
       "\n"
       "  -c, --config FILE   the YAML config file (embedded defaults without it)\n"
       "\n"
       "exit codes: 0 valid; 2 invalid, with every error as FILE:LINE:COL: key: what is wrong\n",
       check_config_command},
      {"fingerprint", "print the dedup fingerprint (hex) of one JSON message read on stdin",
       "usage: sluice fingerprint < message.json\n"
       "\n"
       "Reads one JSON message on stdin and prints the fingerprint the dedup stage keys it by.\n"
       "\n"
       "exit codes: 0 printed; 2 the input is not valid JSON\n",
       fingerprint_command},
      {"replay", "re-drive dead-letter records to their original topic",
       "usage: sluice replay --from TOPIC [--config FILE] [--to TOPIC]\n"
       "                     [--where error_stage=S|reason=R|original_topic=T]...\n"
       "                     [--since TIME] [--until TIME] [--limit N] [--rate N/s] [--max-replays N] [--dry-run]\n"
       "\n"
       "Reads the DLQ topic from its start to the end it finds at start-up and produces each selected\n"
       "record's original value, key and headers to its original topic (or --to).\n"
       "\n"
       "  --from TOPIC        the DLQ topic to read (required)\n"
       "  --to TOPIC          produce here instead of each record's original topic\n"
       "  --where K=V         only records whose error_stage, reason or original_topic is V (repeatable)\n"
       "  --since, --until    a time window: RFC 3339, or a duration ago (e.g. 2h)\n"
       "  --limit N           stop after N records\n"
       "  --rate N/s          at most N records a second\n"
       "  --max-replays N     skip records already replayed N times (loop guard; default 3)\n"
       "  --dry-run           list what would be replayed; write nothing\n"
       "  -c, --config FILE   the YAML config file (for the brokers and client properties)\n"
       "\n"
       "exit codes: 0 done; 1 failures; 2 usage or configuration errors; 3 some records skipped\n"
       "(loop guard or truncated originals)\n",
       replay_command},
      {"status", "print a running daemon's partitions, destinations and totals", kStatusUsage,
       status_command},
      {"config-reference", "print the table of every config key (Markdown)",
       "usage: sluice config-reference\n"
       "\n"
       "Prints every config key with its type, default and meaning, as Markdown (config/REFERENCE.md).\n",
       config_reference_command},
      {"metrics-reference", "print the table of every metric (Markdown)",
       "usage: sluice metrics-reference\n"
       "\n"
       "Prints every metric family with its type, labels and meaning, as Markdown (docs/METRICS.md).\n",
       metrics_reference_command},
  };
  return table;
}

const Command& command_named(std::string_view name) {
  for (const Command& command : commands()) {
    if (name == command.name) return command;
  }
  SLUICE_ASSERT(false, "no such command in the table");
  return commands().front();
}

void print_version() {
  std::cout << "sluice " << SLUICE_VERSION << " (git " << SLUICE_GIT_REVISION << ")\n"
            << "librdkafka " << rd_kafka_version_str() << "\n";
}

bool asks_for_help(const std::vector<std::string>& args) {
  for (const std::string& arg : args) {
    if (arg == "--help" || arg == "-h") return true;
  }
  return false;
}

}  // namespace

int run_cli(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::cerr << "sluice: a command is needed\n\n" << overview();
    return kExitUsage;
  }
  const std::string& first = args.front();
  if (first == "--help" || first == "-h" || first == "help") {
    if (first == "help" && args.size() == 2) {
      for (const Command& command : commands()) {
        if (args[1] == command.name) {
          std::cout << command.usage;
          return kExitOk;
        }
      }
    }
    std::cout << overview();
    return kExitOk;
  }
  if (first == "--version" || first == "version") {
    print_version();
    return kExitOk;
  }
  for (const Command& command : commands()) {
    if (first != command.name) continue;
    std::vector<std::string> rest(args.begin() + 1, args.end());
    if (asks_for_help(rest)) {
      std::cout << command.usage;
      return kExitOk;
    }
    return command.handler(rest);
  }
  std::cerr << "sluice: unknown command: " << first << "\n\n" << overview();
  return kExitUsage;
}

}  // namespace sluice::app
