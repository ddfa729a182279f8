#include "bench/bare_copy.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <stdexcept>
#include <utility>

#include <librdkafka/rdkafka.h>

#include "bench/bench_kafka.h"
#include "kafka/fetch_waker.h"
#include "kafka/handles.h"

namespace sluice::bench {
namespace {

using Clock = std::chrono::steady_clock;

std::atomic<bool> stop_requested{false};

void on_rebalance(rd_kafka_t* handle, rd_kafka_resp_err_t error, rd_kafka_topic_partition_list_t* partitions, void*) {
  if (error == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    rd_kafka_assign(handle, partitions);
    // The driver times the run from this line, as it does from sluice's log line.
    std::printf("partitions assigned %d\n", partitions->cnt);
    std::fflush(stdout);
  } else {
    rd_kafka_assign(handle, nullptr);
  }
}

// One input partition: the offset after its last acknowledged record, and what was committed.
struct InputPartition {
  std::string topic;
  int32_t partition = 0;
  rd_kafka_topic_t* output = nullptr;
  int64_t acknowledged = -1;
  int64_t committed = -1;
};

// A record's produce opaque: its input partition's slot and its input offset. Each input
// partition is copied to the same partition number of its output topic, so the idempotent
// producer acknowledges one input partition's records in offset order and the highest
// acknowledged offset is a complete prefix: committing it is at-least-once.
constexpr int kOffsetBits = 40;
void* pack(size_t slot, int64_t offset) {
  return reinterpret_cast<void*>((static_cast<uintptr_t>(slot) << kOffsetBits) | static_cast<uintptr_t>(offset));
}
std::pair<size_t, int64_t> unpack(void* opaque) {
  auto bits = reinterpret_cast<uintptr_t>(opaque);
  return {bits >> kOffsetBits, static_cast<int64_t>(bits & ((uintptr_t{1} << kOffsetBits) - 1))};
}

struct CopyState {
  std::vector<InputPartition> inputs;
  // By the consumer's topic handle, which stays the same for a topic: no string per record.
  std::map<std::pair<const rd_kafka_topic_t*, int32_t>, size_t> slot_of;
  int64_t delivery_failures = 0;
};

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void* state_opaque) {
  auto& state = *static_cast<CopyState*>(state_opaque);
  if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    ++state.delivery_failures;
    return;
  }
  auto [slot, offset] = unpack(message->_private);
  InputPartition& input = state.inputs[slot];
  if (offset + 1 > input.acknowledged) input.acknowledged = offset + 1;
}

// Commits every input partition that moved; `sync` for the last commit before closing.
bool commit_acknowledged(rd_kafka_t* consumer, CopyState& state, bool sync) {
  kafka::PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(state.inputs.size())));
  for (InputPartition& input : state.inputs) {
    if (input.acknowledged <= input.committed) continue;
    rd_kafka_topic_partition_list_add(list.get(), input.topic.c_str(), input.partition)->offset = input.acknowledged;
    input.committed = input.acknowledged;
  }
  if (list->cnt == 0) return true;
  rd_kafka_resp_err_t error = rd_kafka_commit(consumer, list.get(), sync ? 0 : 1);
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    std::fprintf(stderr, "bare: commit failed: %s\n", rd_kafka_err2str(error));
    return false;
  }
  return true;
}

}  // namespace

std::string bare_output_topic(const std::string& output_prefix, const std::string& input_topic) {
  size_t dot = input_topic.rfind('.');
  return output_prefix + (dot == std::string::npos ? input_topic : input_topic.substr(dot + 1));
}

int run_bare(const BareOptions& options) {
  signal(SIGTERM, [](int) { stop_requested = true; });
  signal(SIGINT, [](int) { stop_requested = true; });
  CopyState state;

  // The consumer as sluice's engine configures it by default.
  std::map<std::string, std::string> consumer_properties = {{"bootstrap.servers", options.bootstrap},
                                                            {"group.id", options.group},
                                                            {"auto.offset.reset", "error"},
                                                            {"enable.auto.commit", "false"},
                                                            {"enable.auto.offset.store", "false"},
                                                            {"enable.partition.eof", "false"},
                                                            {"socket.nagle.disable", "true"},
                                                            {"queued.max.messages.kbytes", "16384"}};
  if (options.fetch_wait_ms >= 0) consumer_properties["fetch.wait.max.ms"] = std::to_string(options.fetch_wait_ms);
  rd_kafka_conf_t* consumer_conf = rd_kafka_conf_new();
  rd_kafka_conf_set_rebalance_cb(consumer_conf, on_rebalance);
  kafka::HandlePtr consumer = make_client(RD_KAFKA_CONSUMER, consumer_properties, consumer_conf);

  rd_kafka_conf_t* producer_conf = rd_kafka_conf_new();
  rd_kafka_conf_set_dr_msg_cb(producer_conf, on_delivery);
  rd_kafka_conf_set_opaque(producer_conf, &state);
  kafka::HandlePtr producer = make_client(RD_KAFKA_PRODUCER,
                                          {{"bootstrap.servers", options.bootstrap},
                                           {"enable.idempotence", "true"},
                                           {"acks", "all"},
                                           {"linger.ms", std::to_string(options.linger_ms)},
                                           {"batch.num.messages", std::to_string(options.batch_num_messages)},
                                           {"socket.nagle.disable", "true"}},
                                          producer_conf);

  // Topic handles made once: producing by handle skips a lookup by name per record.
  std::map<std::string, kafka::TopicPtr> outputs;
  for (const std::string& topic : options.topics) {
    outputs[topic].reset(
        rd_kafka_topic_new(producer.get(), bare_output_topic(options.output_prefix, topic).c_str(), nullptr));
  }

  rd_kafka_poll_set_consumer(consumer.get());
  kafka::QueuePtr queue(rd_kafka_queue_get_consumer(consumer.get()));
  kafka::PartitionListPtr subscription(rd_kafka_topic_partition_list_new(static_cast<int>(options.topics.size())));
  for (const std::string& topic : options.topics) {
    rd_kafka_topic_partition_list_add(subscription.get(), topic.c_str(), RD_KAFKA_PARTITION_UA);
  }
  if (rd_kafka_subscribe(consumer.get(), subscription.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    std::fprintf(stderr, "bare: subscribe failed\n");
    return 1;
  }

  auto copy = [&](rd_kafka_message_t* message) -> bool {
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::fprintf(stderr, "bare: consume error: %s\n", rd_kafka_message_errstr(message));
      return false;
    }
    auto [found, added] = state.slot_of.try_emplace({message->rkt, message->partition}, state.inputs.size());
    if (added) {
      const std::string topic = rd_kafka_topic_name(message->rkt);
      state.inputs.push_back({topic, message->partition, outputs.at(topic).get(), -1, -1});
    }
    rd_kafka_topic_t* output = state.inputs[found->second].output;
    rd_kafka_headers_t* headers = nullptr;
    rd_kafka_message_detach_headers(message, &headers);
    while (true) {
      rd_kafka_resp_err_t error =
          rd_kafka_producev(producer.get(), RD_KAFKA_V_RKT(output), RD_KAFKA_V_PARTITION(message->partition),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(message->key, message->key_len),
                            RD_KAFKA_V_VALUE(message->payload, message->len), RD_KAFKA_V_HEADERS(headers),
                            RD_KAFKA_V_OPAQUE(pack(found->second, message->offset)), RD_KAFKA_V_END);
      if (error == RD_KAFKA_RESP_ERR_NO_ERROR) return true;
      if (error != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        std::fprintf(stderr, "bare: produce error: %s\n", rd_kafka_err2str(error));
        if (headers != nullptr) rd_kafka_headers_destroy(headers);
        return false;
      }
      rd_kafka_poll(producer.get(), 10);
    }
  };

  std::unique_ptr<kafka::FetchWaker> waker;
  if (options.wake_fetchers) {
    waker = std::make_unique<kafka::FetchWaker>(
        [handle = consumer.get()](std::chrono::milliseconds timeout) { kafka::wake_fetchers_of(handle, timeout); });
  }
  bool queue_was_ahead = false;

  // librdkafka writes a byte here when the consumer queue goes from empty to non-empty.
  int wake_pipe[2];
  if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
    std::fprintf(stderr, "bare: pipe2 failed\n");
    return 1;
  }
  static const char kWakeByte = 'w';
  rd_kafka_queue_io_event_enable(queue.get(), wake_pipe[1], &kWakeByte, 1);

  int status = 0;
  std::vector<rd_kafka_message_t*> batch(static_cast<size_t>(std::max(1, options.batch_size)));
  auto next_commit = Clock::now() + std::chrono::milliseconds(options.commit_interval_ms);
  while (!stop_requested && status == 0) {
    if (options.consume == "poll") {
      kafka::MessagePtr message(rd_kafka_consumer_poll(consumer.get(), 100));
      if (message && !copy(message.get())) status = 1;
    } else {
      // Without waiting: with a timeout, the call waits for a whole batch (100 ms at 10 000
      // msgs/s, all of it latency); an empty queue is waited for on its wake pipe instead.
      ssize_t count = rd_kafka_consume_batch_queue(queue.get(), 0, batch.data(), batch.size());
      if (count == 0) {
        pollfd descriptor{wake_pipe[0], POLLIN, 0};
        if (::poll(&descriptor, 1, 100) > 0) {
          char bytes[64];
          while (read(wake_pipe[0], bytes, sizeof bytes) > 0) {
          }
        }
      }
      if (count == static_cast<ssize_t>(batch.size())) {
        queue_was_ahead = true;
      } else if (queue_was_ahead && waker) {
        queue_was_ahead = false;
        waker->request();
      }
      for (ssize_t i = 0; i < count; ++i) {
        if (status == 0 && !copy(batch[static_cast<size_t>(i)])) status = 1;
        rd_kafka_message_destroy(batch[static_cast<size_t>(i)]);
      }
    }
    rd_kafka_poll(producer.get(), 0);
    if (Clock::now() >= next_commit) {
      if (!commit_acknowledged(consumer.get(), state, false)) status = 1;
      next_commit = Clock::now() + std::chrono::milliseconds(options.commit_interval_ms);
    }
  }
  waker.reset();  // its thread uses the consumer
  outputs.clear();
  if (rd_kafka_flush(producer.get(), 10'000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    std::fprintf(stderr, "bare: records still unacknowledged after 10 s\n");
    status = 1;
  }
  if (!commit_acknowledged(consumer.get(), state, true)) status = 1;
  rd_kafka_queue_io_event_enable(queue.get(), -1, nullptr, 0);
  queue.reset();
  close(wake_pipe[0]);
  close(wake_pipe[1]);
  rd_kafka_consumer_close(consumer.get());
  if (state.delivery_failures > 0) {
    std::fprintf(stderr, "bare: %lld deliveries failed\n", static_cast<long long>(state.delivery_failures));
    status = 1;
  }
  return status;
}

BareOptions parse_bare_arguments(const std::vector<std::string>& args) {
  BareOptions options;
  std::string topics;
  for (size_t i = 0; i < args.size(); i += 2) {
    if (i + 1 >= args.size()) throw std::invalid_argument(args[i] + " needs a value");
    const std::string& name = args[i];
    const std::string& value = args[i + 1];
    if (name == "--bootstrap") {
      options.bootstrap = value;
    } else if (name == "--group") {
      options.group = value;
    } else if (name == "--topics") {
      topics = value;
    } else if (name == "--output-prefix") {
      options.output_prefix = value;
    } else if (name == "--consume") {
      if (value != "batch" && value != "poll") throw std::invalid_argument("--consume is batch or poll");
      options.consume = value;
    } else if (name == "--batch-size") {
      options.batch_size = std::stoi(value);
    } else if (name == "--linger-ms") {
      options.linger_ms = std::stoi(value);
    } else if (name == "--batch-num-messages") {
      options.batch_num_messages = std::stoi(value);
    } else if (name == "--fetch-wait-ms") {
      options.fetch_wait_ms = std::stoi(value);
    } else if (name == "--wake-fetchers") {
      if (value != "true" && value != "false") throw std::invalid_argument("--wake-fetchers is true or false");
      options.wake_fetchers = value == "true";
    } else if (name == "--commit-interval-ms") {
      options.commit_interval_ms = std::stoi(value);
    } else {
      throw std::invalid_argument("unknown option " + name);
    }
  }
  size_t start = 0;
  while (start <= topics.size() && !topics.empty()) {
    size_t comma = topics.find(',', start);
    std::string topic = topics.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!topic.empty()) options.topics.push_back(topic);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (options.bootstrap.empty() || options.group.empty() || options.topics.empty() || options.output_prefix.empty()) {
    throw std::invalid_argument("--bootstrap, --group, --topics and --output-prefix are required");
  }
  return options;
}

std::vector<std::string> bare_arguments(const BareOptions& options) {
  std::string topics;
  for (const std::string& topic : options.topics) topics += (topics.empty() ? "" : ",") + topic;
  return {"--bootstrap", options.bootstrap, "--group", options.group, "--topics", topics, "--output-prefix",
          options.output_prefix, "--consume", options.consume, "--batch-size", std::to_string(options.batch_size),
          "--linger-ms", std::to_string(options.linger_ms), "--batch-num-messages",
          std::to_string(options.batch_num_messages), "--fetch-wait-ms", std::to_string(options.fetch_wait_ms),
          "--commit-interval-ms", std::to_string(options.commit_interval_ms), "--wake-fetchers",
          options.wake_fetchers ? "true" : "false"};
}

}  // namespace sluice::bench
