#pragma once
// Command line of sluice-devbroker.

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::devbroker {

struct TopicSpec {
  std::string name;
  int partitions = 0;
};

struct Options {
  int brokers = 1;
  std::vector<TopicSpec> topics;
  // Topics that answer UNKNOWN_TOPIC_OR_PART to every Metadata request, as on a broker that
  // lacks them and does not auto-create (the mock cannot turn auto-creation off: usage_text()).
  std::vector<std::string> missing_topics;
  std::string bootstrap_file;  // empty: not written
  std::string control_fifo;    // empty: no FIFO
  std::string pid_file;        // empty: not written
  bool stdin_control = false;
  std::optional<std::chrono::milliseconds> max_lifetime;
};

enum class Action { Run, Help, Invalid };

struct ParsedOptions {
  Action action = Action::Invalid;
  Options options;
  std::string error;  // set when action is Invalid
};

// `args` excludes the program name. Accepts "--name value" and "--name=value".
ParsedOptions parse_options(std::span<const char* const> args);

// The three-line synopsis, printed after an argument error.
std::string usage_synopsis();
// The synopsis plus every option and the control commands, for --help.
std::string usage_text();

}  // namespace sluice::devbroker
