#include "devbroker/command_handler.h"

#include "common/text.h"
#include "devbroker/bounds.h"

namespace sluice::devbroker {
namespace {

constexpr size_t kMaxEchoBytes = 64;

bool is_separator(char c) { return c == ' ' || c == '\t' || c == '\r'; }

void split(std::string_view line, std::vector<std::string_view>& out) {
  out.clear();
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && is_separator(line[i])) ++i;
    size_t start = i;
    while (i < line.size() && !is_separator(line[i])) ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
}

// Replies are single lines read by scripts, so nothing unprintable is echoed back.
void append_printable(std::string& out, std::string_view text) {
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    out.push_back(byte >= 0x20 && byte < 0x7f ? c : '?');
  }
}

std::string quoted(std::string_view text) {
  std::string out = "\"";
  append_printable(out, text.substr(0, kMaxEchoBytes));
  if (text.size() > kMaxEchoBytes) out += "...";
  out += '"';
  return out;
}

bool same_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (text::ascii_lower(a[i]) != text::ascii_lower(b[i])) return false;
  }
  return true;
}

std::optional<int64_t> parse_in_range(std::string_view text, int64_t lo, int64_t hi) {
  auto value = text::parse_int(text);
  if (!value || *value < lo || *value > hi) return std::nullopt;
  return value;
}

std::string range_reason(std::string_view what, int64_t lo, int64_t hi, std::string_view got) {
  return std::string(what) + " must be " + std::to_string(lo) + ".." + std::to_string(hi) + ", got " +
         quoted(got);
}

std::string failed(rd_kafka_resp_err_t err) { return "mock refused: " + describe_error(err); }

const ApiKeyInfo* parse_api_key(std::string_view text, std::string* reason) {
  const ApiKeyInfo* info = find_api_key(text);
  if (info == nullptr) {
    *reason = "ApiKey " + quoted(text) + " is not served by the mock broker (served: " + served_api_key_names() + ")";
  }
  return info;
}

}  // namespace

const CommandHandler::Command CommandHandler::kCommands[] = {
    {"ping", 0, 0, "ping", &CommandHandler::run_ping},
    {"down", 1, 1, "down <broker|-1>", &CommandHandler::run_down},
    {"up", 1, 1, "up <broker|-1>", &CommandHandler::run_up},
    {"rtt", 2, 2, "rtt <broker|-1> <ms>", &CommandHandler::run_rtt},
    {"err", 2, SIZE_MAX, "err <ApiKey> <ERR> [<ERR>...]", &CommandHandler::run_err},
    {"berr", 4, 4, "berr <broker> <ApiKey> <ERR> <rtt_ms>", &CommandHandler::run_berr},
    {"clearerr", 1, 1, "clearerr <ApiKey>", &CommandHandler::run_clearerr},
    {"topic", 2, 2, "topic <name> <partitions>", &CommandHandler::run_topic},
    {"topicerr", 2, 2, "topicerr <name> <ERR>", &CommandHandler::run_topicerr},
    {"leader", 3, 3, "leader <topic> <partition> <broker|-1>", &CommandHandler::run_leader},
    {"coord", 3, 3, "coord <group|transaction> <key> <broker>", &CommandHandler::run_coord},
};

CommandHandler::CommandHandler(MockCluster& cluster) : cluster_(cluster) {}

std::string CommandHandler::execute(std::string_view line) {
  split(line, tokens_);
  if (tokens_.empty() || tokens_.front().starts_with('#')) return {};

  std::string echo;
  for (std::string_view token : tokens_) {
    if (!echo.empty()) echo += ' ';
    append_printable(echo, token);
  }

  const Command* command = nullptr;
  for (const Command& candidate : kCommands) {
    if (same_ignoring_case(candidate.name, tokens_.front())) command = &candidate;
  }
  if (command == nullptr) {
    std::string names;
    for (const Command& candidate : kCommands) {
      if (!names.empty()) names += ", ";
      names += candidate.name;
    }
    return "ERR " + echo + ": unknown command " + quoted(tokens_.front()) + " (commands: " + names + ")";
  }

  Args args = Args(tokens_).subspan(1);
  if (args.size() < command->min_args || args.size() > command->max_args) {
    return "ERR " + echo + ": usage: " + std::string(command->usage);
  }
  std::string reason = (this->*command->run)(args);
  if (!reason.empty()) return "ERR " + echo + ": " + reason;
  return "OK " + echo;
}

std::string CommandHandler::reply_overlong(std::string_view start, size_t limit) {
  std::string out = "ERR ";
  append_printable(out, start.substr(0, kMaxEchoBytes));
  out += "...: line longer than " + std::to_string(limit) + " bytes, ignored";
  return out;
}

std::optional<int32_t> CommandHandler::parse_broker(std::string_view text, bool allow_all,
                                                    std::string* reason) const {
  auto value = text::parse_int(text);
  if (value && allow_all && *value == -1) return -1;
  if (value && *value >= 1 && *value <= cluster_.broker_count()) return static_cast<int32_t>(*value);
  *reason = "broker must be 1.." + std::to_string(cluster_.broker_count()) + (allow_all ? " or -1 (all)" : "") +
            ", got " + quoted(text);
  return std::nullopt;
}

std::optional<rd_kafka_resp_err_t> CommandHandler::parse_error(std::string_view text, std::string* reason) const {
  auto err = error_names_.find(text);
  if (!err) {
    *reason = "unknown error " + quoted(text) +
              " (use a librdkafka name without RD_KAFKA_RESP_ERR_, e.g. NOT_LEADER_FOR_PARTITION or _TRANSPORT, "
              "or a code)";
  }
  return err;
}

std::string CommandHandler::run_ping(Args) { return {}; }

std::string CommandHandler::set_up_down(Args args, bool up) {
  std::string reason;
  auto broker = parse_broker(args[0], true, &reason);
  if (!broker) return reason;
  rd_kafka_resp_err_t err = cluster_.set_broker_up(*broker, up);
  return err ? failed(err) : std::string();
}

std::string CommandHandler::run_down(Args args) { return set_up_down(args, false); }

std::string CommandHandler::run_up(Args args) { return set_up_down(args, true); }

std::string CommandHandler::run_rtt(Args args) {
  std::string reason;
  auto broker = parse_broker(args[0], true, &reason);
  if (!broker) return reason;
  auto rtt = parse_in_range(args[1], 0, kMaxRttMs);
  if (!rtt) return range_reason("rtt ms", 0, kMaxRttMs, args[1]);
  rd_kafka_resp_err_t err = cluster_.set_broker_rtt(*broker, static_cast<int>(*rtt));
  return err ? failed(err) : std::string();
}

std::string CommandHandler::run_err(Args args) {
  std::string reason;
  const ApiKeyInfo* api = parse_api_key(args[0], &reason);
  if (api == nullptr) return reason;
  if (!api->takes_injected_errors) {
    return "the mock broker never returns injected " + std::string(api->name) +
           " errors; use topicerr for topic-level Metadata errors";
  }
  // All names are checked before anything is pushed, so a typo pushes nothing.
  errors_.clear();
  for (std::string_view name : args.subspan(1)) {
    auto err = parse_error(name, &reason);
    if (!err) return reason;
    errors_.push_back(*err);
  }
  cluster_.push_request_errors(api->key, errors_);
  return {};
}

std::string CommandHandler::run_berr(Args args) {
  std::string reason;
  auto broker = parse_broker(args[0], false, &reason);
  if (!broker) return reason;
  const ApiKeyInfo* api = parse_api_key(args[1], &reason);
  if (api == nullptr) return reason;
  if (!api->takes_injected_errors) {
    return "the mock broker never returns injected " + std::string(api->name) + " errors";
  }
  auto err = parse_error(args[2], &reason);
  if (!err) return reason;
  auto rtt = parse_in_range(args[3], 0, kMaxRttMs);
  if (!rtt) return range_reason("rtt_ms", 0, kMaxRttMs, args[3]);
  rd_kafka_resp_err_t result = cluster_.push_broker_request_error(*broker, api->key, *err, static_cast<int>(*rtt));
  return result ? failed(result) : std::string();
}

std::string CommandHandler::run_clearerr(Args args) {
  std::string reason;
  const ApiKeyInfo* api = parse_api_key(args[0], &reason);
  if (api == nullptr) return reason;
  cluster_.clear_request_errors(api->key);
  return {};
}

std::string CommandHandler::run_topic(Args args) {
  if (!is_valid_topic_name(args[0])) return "invalid topic name " + quoted(args[0]);
  auto partitions = parse_in_range(args[1], 1, kMaxPartitions);
  if (!partitions) return range_reason("partitions", 1, kMaxPartitions, args[1]);
  rd_kafka_resp_err_t err = cluster_.create_topic(std::string(args[0]), static_cast<int>(*partitions));
  return err ? failed(err) : std::string();
}

std::string CommandHandler::run_topicerr(Args args) {
  if (!is_valid_topic_name(args[0])) return "invalid topic name " + quoted(args[0]);
  std::string reason;
  auto err = parse_error(args[1], &reason);
  if (!err) return reason;
  cluster_.set_topic_error(std::string(args[0]), *err);
  return {};
}

std::string CommandHandler::run_leader(Args args) {
  if (!is_valid_topic_name(args[0])) return "invalid topic name " + quoted(args[0]);
  // The mock indexes its partition array with this number unchecked when it is negative,
  // and auto-creates a missing topic with partition+1 partitions, so both ends are bounded.
  auto partition = parse_in_range(args[1], 0, kMaxPartitions - 1);
  if (!partition) return range_reason("partition", 0, kMaxPartitions - 1, args[1]);
  std::string reason;
  auto broker = parse_broker(args[2], true, &reason);
  if (!broker) return reason;
  rd_kafka_resp_err_t err =
      cluster_.set_partition_leader(std::string(args[0]), static_cast<int32_t>(*partition), *broker);
  return err ? failed(err) : std::string();
}

std::string CommandHandler::run_coord(Args args) {
  if (args[0] != "group" && args[0] != "transaction") {
    return "coordinator type must be group or transaction, got " + quoted(args[0]);
  }
  // An unknown broker id here would make the mock assert on the next FindCoordinator.
  std::string reason;
  auto broker = parse_broker(args[2], false, &reason);
  if (!broker) return reason;
  rd_kafka_resp_err_t err = cluster_.set_coordinator(std::string(args[0]), std::string(args[1]), *broker);
  return err ? failed(err) : std::string();
}

}  // namespace sluice::devbroker
