#pragma once
// The control protocol: one command per line, one reply line per command.
//
//   ping                                   liveness check of the control channel
//   down <broker|-1>  /  up <broker|-1>    refuse / accept connections (-1: every broker)
//   rtt <broker|-1> <ms>                   delay every response of a broker
//   err <ApiKey> <ERR> [<ERR>...]          next requests of that API fail, in order
//   berr <broker> <ApiKey> <ERR> <rtt_ms>  next request of that API on one broker fails late
//   clearerr <ApiKey>                      drop what `err` queued for that API
//   topic <name> <partitions>              create a topic
//   topicerr <name> <ERR>                  topic-level error in Metadata (NO_ERROR clears)
//   leader <topic> <partition> <broker|-1> move a partition leader (-1: no leader)
//   coord <group|transaction> <key> <broker>  pin a coordinator
//
// Replies are "OK <command>" or "ERR <command>: <why>", where <command> is the line with its
// whitespace collapsed and unprintable bytes shown as '?'. Blank lines and lines starting
// with '#' get no reply. Every argument is checked before it reaches librdkafka: several
// mock calls assert (and abort the process) on ids or partitions they do not expect.
//
// Threading: one instance, used by the thread that owns the MockCluster.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <librdkafka/rdkafka.h>

#include "devbroker/kafka_names.h"
#include "devbroker/mock_cluster.h"

namespace sluice::devbroker {

class CommandHandler {
 public:
  // `cluster` must outlive the handler.
  explicit CommandHandler(MockCluster& cluster);

  // Applies one line (without its newline). Returns the reply without a newline, or an
  // empty string when the line is blank or a comment.
  std::string execute(std::string_view line);

  // The reply for a line that was cut off because it exceeded the line limit.
  static std::string reply_overlong(std::string_view start, size_t limit);

 private:
  using Args = std::span<const std::string_view>;
  // Each returns an empty string on success, otherwise the reason it was refused.
  std::string run_ping(Args args);
  std::string run_down(Args args);
  std::string run_up(Args args);
  std::string run_rtt(Args args);
  std::string run_err(Args args);
  std::string run_berr(Args args);
  std::string run_clearerr(Args args);
  std::string run_topic(Args args);
  std::string run_topicerr(Args args);
  std::string run_leader(Args args);
  std::string run_coord(Args args);

  struct Command {
    std::string_view name;
    size_t min_args;
    size_t max_args;
    std::string_view usage;
    std::string (CommandHandler::*run)(Args);
  };
  static const Command kCommands[];

  std::optional<int32_t> parse_broker(std::string_view text, bool allow_all, std::string* reason) const;
  std::optional<rd_kafka_resp_err_t> parse_error(std::string_view text, std::string* reason) const;
  std::string set_up_down(Args args, bool up);

  MockCluster& cluster_;
  ErrorNames error_names_;
  std::vector<std::string_view> tokens_;       // reused for every line
  std::vector<rd_kafka_resp_err_t> errors_;    // reused by `err`
};

}  // namespace sluice::devbroker
