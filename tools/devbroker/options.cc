#include "devbroker/options.h"

#include "common/text.h"
#include "devbroker/kafka_names.h"
#include "devbroker/bounds.h"

namespace sluice::devbroker {
namespace {

std::optional<std::chrono::milliseconds> parse_lifetime(std::string_view text) {
  if (auto seconds = text::parse_int(text)) {
    if (*seconds <= 0 || *seconds > 366LL * 24 * 3600) return std::nullopt;
    return std::chrono::seconds(*seconds);
  }
  auto duration = text::parse_duration(text);
  if (!duration || duration->count() <= 0) return std::nullopt;
  return duration;
}

// Parses NAME:PARTITIONS; the name may not contain ':' (Kafka forbids it anyway).
std::optional<TopicSpec> parse_topic(std::string_view text, std::string* error) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    *error = "--topic wants NAME:PARTITIONS, got \"" + std::string(text) + "\"";
    return std::nullopt;
  }
  std::string_view name = text.substr(0, colon);
  if (!is_valid_topic_name(name)) {
    *error = "invalid topic name \"" + std::string(name) + "\" (1..249 of A-Z a-z 0-9 . _ -)";
    return std::nullopt;
  }
  auto partitions = text::parse_int(text.substr(colon + 1));
  if (!partitions || *partitions < 1 || *partitions > kMaxPartitions) {
    *error = "partitions of topic \"" + std::string(name) + "\" must be 1.." + std::to_string(kMaxPartitions);
    return std::nullopt;
  }
  return TopicSpec{std::string(name), static_cast<int>(*partitions)};
}

ParsedOptions invalid(std::string error) {
  ParsedOptions parsed;
  parsed.action = Action::Invalid;
  parsed.error = std::move(error);
  return parsed;
}

}  // namespace

ParsedOptions parse_options(std::span<const char* const> args) {
  ParsedOptions parsed;
  parsed.action = Action::Run;
  Options& options = parsed.options;

  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    std::string_view name = arg;
    std::optional<std::string_view> inline_value;
    if (size_t eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      inline_value = arg.substr(eq + 1);
    }

    if (name == "--help" || name == "-h") {
      if (inline_value) return invalid("--help takes no value");
      parsed.action = Action::Help;
      return parsed;
    }
    if (name == "--stdin-control") {
      if (inline_value) return invalid("--stdin-control takes no value");
      options.stdin_control = true;
      continue;
    }

    bool takes_value = name == "--brokers" || name == "--topic" || name == "--missing-topic" ||
                       name == "--bootstrap-file" ||
                       name == "--control" || name == "--pid-file" || name == "--max-lifetime";
    if (!takes_value) {
      return invalid(arg.starts_with("-") ? "unknown option " + std::string(arg)
                                          : "unexpected argument \"" + std::string(arg) + "\"");
    }
    std::string_view value;
    if (inline_value) {
      value = *inline_value;
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return invalid(std::string(name) + " needs a value");
    }
    if (value.empty()) return invalid(std::string(name) + " needs a non-empty value");

    if (name == "--brokers") {
      auto brokers = text::parse_int(value);
      if (!brokers || *brokers < 1 || *brokers > kMaxBrokers) {
        return invalid("--brokers must be 1.." + std::to_string(kMaxBrokers) + ", got \"" + std::string(value) + "\"");
      }
      options.brokers = static_cast<int>(*brokers);
    } else if (name == "--topic") {
      std::string error;
      auto topic = parse_topic(value, &error);
      if (!topic) return invalid(error);
      for (const TopicSpec& existing : options.topics) {
        if (existing.name == topic->name) return invalid("topic \"" + topic->name + "\" given twice");
      }
      options.topics.push_back(std::move(*topic));
    } else if (name == "--missing-topic") {
      if (!is_valid_topic_name(value)) {
        return invalid("invalid topic name \"" + std::string(value) + "\" (1..249 of A-Z a-z 0-9 . _ -)");
      }
      options.missing_topics.emplace_back(value);
    } else if (name == "--bootstrap-file") {
      options.bootstrap_file = value;
    } else if (name == "--control") {
      options.control_fifo = value;
    } else if (name == "--pid-file") {
      options.pid_file = value;
    } else {
      auto lifetime = parse_lifetime(value);
      if (!lifetime) {
        return invalid("--max-lifetime must be a positive number of seconds (or a duration like 10m), got \"" +
                       std::string(value) + "\"");
      }
      options.max_lifetime = lifetime;
    }
  }
  return parsed;
}

std::string usage_synopsis() {
  return "usage: sluice-devbroker [--brokers N] [--topic NAME:PARTITIONS]... [--missing-topic NAME]...\n"
         "                        [--bootstrap-file F] [--control FIFO] [--stdin-control] [--pid-file F]\n"
         "                        [--max-lifetime SECONDS] [--help]\n";
}

std::string usage_text() {
  return usage_synopsis() +
         "\n"
         "Runs librdkafka's mock Kafka cluster on 127.0.0.1 (random ports) for tests and demos.\n"
         "The first line of stdout is the bootstrap string; --bootstrap-file gets the same line,\n"
         "written atomically once the listeners accept connections.\n"
         "\n"
         "  --brokers N             number of brokers, ids 1..N (default 1)\n"
         "  --topic NAME:P          create a topic with P partitions (repeatable); any other\n"
         "                          topic is auto-created with 4 partitions by the first Metadata\n"
         "                          request naming it, whatever the client's\n"
         "                          allow.auto.create.topics (the mock serves Metadata v0-v2 only)\n"
         "  --missing-topic NAME    NAME answers UNKNOWN_TOPIC_OR_PART to every Metadata request\n"
         "                          (repeatable), as on a broker that lacks it and does not\n"
         "                          auto-create. The mock (librdkafka 2.0.2) has no switch to turn\n"
         "                          auto-creation off for all names, and does not serve CreateTopics.\n"
         "  --bootstrap-file F      write the bootstrap string to F (removed on exit)\n"
         "  --control FIFO          read control commands from FIFO (created when absent, and\n"
         "                          then removed on exit)\n"
         "  --stdin-control         read control commands from stdin; end of stdin stops the broker\n"
         "  --pid-file F            write the process id to F (removed on exit)\n"
         "  --max-lifetime SECONDS  stop after this long, whatever happens\n"
         "\n"
         "Control commands, one per line; each gets \"OK <command>\" or \"ERR <command>: <why>\" on stdout:\n"
         "  ping | down <broker|-1> | up <broker|-1> | rtt <broker|-1> <ms>\n"
         "  err <ApiKey> <ERR>... | berr <broker> <ApiKey> <ERR> <rtt_ms> | clearerr <ApiKey>\n"
         "  topic <name> <partitions> | topicerr <name> <ERR>\n"
         "  leader <topic> <partition> <broker|-1> | coord <group|transaction> <key> <broker>\n"
         "ApiKeys by name (Produce, Fetch, ...) or number; errors by librdkafka name without\n"
         "RD_KAFKA_RESP_ERR_ (NOT_LEADER_FOR_PARTITION, _TRANSPORT, ...) or number.\n"
         "\n"
         "SIGTERM, SIGINT or SIGHUP stop it with exit status 0; bad arguments exit with 2.\n";
}

}  // namespace sluice::devbroker
