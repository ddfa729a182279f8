#pragma once
// The bare copy: the fastest consume→produce loop librdkafka allows, with the delivery
// guarantee sluice gives (at least once: idempotent producer, acks=all, an input offset
// committed only after its record was acknowledged). It parses nothing and decides nothing,
// so the difference between it and sluice is sluice's own work. `sluice-bench bare` runs it
// until SIGTERM; the variants exist so the bench can show that the default one is the fastest.

#include <string>
#include <vector>

namespace sluice::bench {

struct BareOptions {
  std::string bootstrap;
  std::string group;
  std::vector<std::string> topics;  // the inputs
  std::string output_prefix;        // input topic T (its last dotted part X) goes to <prefix>X
  // How records are taken: "batch" (rd_kafka_consume_batch_queue, up to batch_size at a time,
  // as sluice does) or "poll" (rd_kafka_consumer_poll, one at a time).
  std::string consume = "batch";
  int batch_size = 1000;
  int linger_ms = 5;                  // sluice's default
  int batch_num_messages = 10'000;    // librdkafka's default
  int fetch_wait_ms = -1;             // < 0: librdkafka's default
  int commit_interval_ms = 1000;      // sluice's kafka.commit_interval default
  // After a batch that drained a consumer queue that had been ahead (a full batch before it),
  // wake librdkafka's fetchers (kafka/fetch_waker.h): without it, a full prefetch queue stops
  // fetching for up to a second.
  bool wake_fetchers = true;
};

// The output topic of an input topic ("inbound.email" → prefix + "email").
std::string bare_output_topic(const std::string& output_prefix, const std::string& input_topic);

// Runs until SIGTERM or SIGINT; 0 when every record was delivered and its offset committed.
int run_bare(const BareOptions& options);

// `sluice-bench bare` arguments (after the word "bare"); throws std::invalid_argument.
BareOptions parse_bare_arguments(const std::vector<std::string>& args);
// The same options as arguments, for starting the copy as a child process.
std::vector<std::string> bare_arguments(const BareOptions& options);

}  // namespace sluice::bench
