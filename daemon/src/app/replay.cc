#include "app/replay.h"

#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <thread>


#include "common/log.h"
#include "common/text.h"
#include "engine/raw_dead_letter.h"
#include "engine/record_headers.h"
#include "kafka/client.h"
#include "kafka/client_properties.h"
#include "kafka/handles.h"
#include "kafka/producer.h"

namespace sluice::app {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kTimeoutMs = 10'000;
constexpr const char* kReplayCountHeader = engine::header::kReplayCount;
// Headers that describe a failure or a retry state; a replayed record starts afresh.
constexpr const char* kDroppedHeaders[] = {engine::header::kError,       engine::header::kErrorStage,
                                           engine::header::kRetryCount,  engine::header::kRetryDue,
                                           engine::header::kRetryAfter,  engine::header::kFingerprint,
                                           engine::header::kSource,      engine::header::kReplayCount};

std::optional<std::chrono::system_clock::time_point> parse_time(const std::string& text) {
  if (auto absolute = text::parse_rfc3339(text)) return absolute;
  if (auto ago = text::parse_duration(text)) return std::chrono::system_clock::now() - *ago;
  return std::nullopt;
}

int replay_count_of(rd_kafka_message_t* message) {
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(message, &headers) != RD_KAFKA_RESP_ERR_NO_ERROR) return 0;
  const void* value = nullptr;
  size_t size = 0;
  if (rd_kafka_header_get_last(headers, kReplayCountHeader, &value, &size) != RD_KAFKA_RESP_ERR_NO_ERROR) return 0;
  return static_cast<int>(text::parse_int(std::string_view(static_cast<const char*>(value), size)).value_or(0));
}

}  // namespace

std::string parse_replay_arguments(const std::vector<std::string>& args, std::string& config_path,
                                   ReplayOptions& options) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= args.size()) return std::nullopt;
      return args[++i];
    };
    std::optional<std::string> v;
    if (arg == "--dry-run") {
      options.dry_run = true;
      continue;
    }
    if (arg != "--config" && arg != "--from" && arg != "--to" && arg != "--where" && arg != "--since" &&
        arg != "--until" && arg != "--limit" && arg != "--rate" && arg != "--max-replays") {
      return "unknown replay option: " + arg;
    }
    v = value();
    if (!v) return arg + " needs a value";
    if (arg == "--config") {
      config_path = *v;
    } else if (arg == "--from") {
      options.from_topic = *v;
    } else if (arg == "--to") {
      options.to_topic = *v;
    } else if (arg == "--where") {
      size_t equals = v->find('=');
      std::string key = v->substr(0, equals);
      if (equals == std::string::npos || (key != "error_stage" && key != "reason" && key != "original_topic")) {
        return "--where takes error_stage=…, reason=… or original_topic=…";
      }
      options.where.emplace_back(key, v->substr(equals + 1));
    } else if (arg == "--since" || arg == "--until") {
      auto time = parse_time(*v);
      if (!time) return arg + " takes an RFC 3339 time or a duration ago (e.g. 2h): " + *v;
      (arg == "--since" ? options.since : options.until) = time;
    } else if (arg == "--limit") {
      auto limit = text::parse_int(*v);
      if (!limit || *limit < 0) return "--limit takes a count";
      options.limit = *limit;
    } else if (arg == "--rate") {
      std::string rate = *v;
      if (rate.ends_with("/s")) rate.resize(rate.size() - 2);
      char* end = nullptr;
      options.rate = std::strtod(rate.c_str(), &end);
      if (end == rate.c_str() || *end != '\0' || options.rate <= 0) return "--rate takes records per second, e.g. 100/s";
    } else if (arg == "--max-replays") {
      auto max = text::parse_int(*v);
      if (!max || *max < 1) return "--max-replays takes a count of at least 1";
      options.max_replays = static_cast<int>(*max);
    }
  }
  if (options.from_topic.empty()) return "--from TOPIC is required";
  return "";
}

int run_replay(const config::Config& config, const ReplayOptions& options, ReplaySummary* summary_out) {
  ReplaySummary summary;
  std::vector<std::string> errors;
  kafka::ConfPtr consumer_conf = kafka::make_conf(kafka::client_properties(config.kafka, kafka::ClientRole::ReplayConsumer), errors);
  std::unique_ptr<kafka::Producer> producer;
  int64_t acknowledged = 0;
  if (!options.dry_run) {
    producer = kafka::Producer::create(
        kafka::client_properties(config.kafka, kafka::ClientRole::ReplayProducer),
        [&](void*, rd_kafka_resp_err_t error) {
          if (error == RD_KAFKA_RESP_ERR_NO_ERROR) {
            acknowledged += 1;
          } else {
            summary.failed += 1;
            std::cerr << "replay: delivery failed: " << kafka::error_name(error) << "\n";
          }
        },
        nullptr, errors);
  }
  kafka::ClientContext context;
  kafka::HandlePtr consumer;
  std::string error;
  if (errors.empty()) consumer = kafka::make_client(RD_KAFKA_CONSUMER, std::move(consumer_conf), &context, error);
  if (!errors.empty() || !consumer) {
    for (const std::string& e : errors) std::cerr << "replay: " << e << "\n";
    if (!error.empty()) std::cerr << "replay: " << error << "\n";
    return 2;
  }

  const rd_kafka_metadata_t* metadata = nullptr;
  rd_kafka_topic_t* topic = rd_kafka_topic_new(consumer.get(), options.from_topic.c_str(), nullptr);
  rd_kafka_resp_err_t metadata_error = rd_kafka_metadata(consumer.get(), 0, topic, &metadata, kTimeoutMs);
  rd_kafka_topic_destroy(topic);
  if (metadata_error != RD_KAFKA_RESP_ERR_NO_ERROR || metadata->topic_cnt != 1 || metadata->topics[0].err) {
    std::cerr << "replay: cannot read metadata of " << options.from_topic << ": "
              << kafka::error_name(metadata_error != RD_KAFKA_RESP_ERR_NO_ERROR ? metadata_error
                                                                                 : metadata->topics[0].err)
              << "\n";
    if (metadata != nullptr) rd_kafka_metadata_destroy(metadata);
    return 1;
  }
  int partitions = metadata->topics[0].partition_cnt;
  rd_kafka_metadata_destroy(metadata);

  // The end of each partition now: records appended later (including our own replays, when
  // --to is the source topic) are not read.
  std::map<int32_t, int64_t> ends;
  kafka::PartitionListPtr assignment(rd_kafka_topic_partition_list_new(partitions));
  for (int32_t partition = 0; partition < partitions; ++partition) {
    int64_t low = 0, high = 0;
    rd_kafka_resp_err_t watermark_error =
        rd_kafka_query_watermark_offsets(consumer.get(), options.from_topic.c_str(), partition, &low, &high, kTimeoutMs);
    if (watermark_error != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::cerr << "replay: cannot read end offsets: " << kafka::error_name(watermark_error) << "\n";
      return 1;
    }
    if (high > low) {
      ends[partition] = high;
      rd_kafka_topic_partition_list_add(assignment.get(), options.from_topic.c_str(), partition)->offset = low;
    }
  }
  rd_kafka_assign(consumer.get(), assignment.get());

  std::map<int32_t, int64_t> next;
  auto finished = [&] {
    for (const auto& [partition, end] : ends) {
      if (next[partition] < end) return false;
    }
    return true;
  };
  const auto started = Clock::now();
  auto last_progress = started;
  bool limit_reached = false;
  int idle_polls = 0;
  while (!finished() && !limit_reached) {
    kafka::MessagePtr message(rd_kafka_consumer_poll(consumer.get(), 100));
    if (producer) producer->poll(std::chrono::milliseconds(0));
    if (!message) {
      if (++idle_polls > 600) {
        std::cerr << "replay: no progress reading " << options.from_topic << " for 60 s\n";
        return 1;
      }
      continue;
    }
    idle_polls = 0;
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::cerr << "replay: read error: " << rd_kafka_message_errstr(message.get()) << "\n";
      return 1;
    }
    next[message->partition] = message->offset + 1;
    if (message->offset >= ends[message->partition]) continue;
    summary.scanned += 1;

    rd_kafka_headers_t* dlq_headers = nullptr;
    if (rd_kafka_message_headers(message.get(), &dlq_headers) != RD_KAFKA_RESP_ERR_NO_ERROR) dlq_headers = nullptr;
    std::optional<std::string_view> value;
    if (message->payload != nullptr) value = std::string_view(static_cast<const char*>(message->payload), message->len);
    engine::DecodedEnvelope envelope = engine::decode_dead_letter_record(value, dlq_headers);
    bool matches = true;
    for (const auto& [key, value] : options.where) {
      const std::string& actual = key == "error_stage" ? envelope.error_stage
                                  : key == "reason"    ? envelope.error
                                                       : envelope.original_topic;
      matches = matches && actual == value;
    }
    if (options.since && (!envelope.failed_at || *envelope.failed_at < *options.since)) matches = false;
    if (options.until && (!envelope.failed_at || *envelope.failed_at > *options.until)) matches = false;
    if (!matches) continue;
    summary.selected += 1;
    std::string where = options.from_topic + "/" + std::to_string(message->partition) + "/" + std::to_string(message->offset);
    if (!envelope.replayable) {
      summary.unreplayable += 1;
      std::cerr << "replay: skipped " << where << ": " << envelope.why_not << "\n";
      continue;
    }
    int replays = replay_count_of(message.get());
    if (replays >= options.max_replays) {
      summary.loop_guarded += 1;
      std::cerr << "replay: skipped " << where << ": already replayed " << replays << " times (loop guard)\n";
      continue;
    }
    const std::string& target = options.to_topic.empty() ? envelope.original_topic : options.to_topic;
    if (options.dry_run) {
      summary.replayed += 1;
      std::cout << "would replay " << where << " -> " << target << " (" << envelope.error << ")\n";
    } else {
      kafka::HeadersPtr headers(dlq_headers != nullptr ? rd_kafka_headers_copy(dlq_headers) : rd_kafka_headers_new(1));
      for (const char* name : kDroppedHeaders) rd_kafka_header_remove(headers.get(), name);
      engine::remove_dead_letter_context(headers.get());
      std::string count = std::to_string(replays + 1);
      rd_kafka_header_add(headers.get(), kReplayCountHeader, -1, count.data(), static_cast<ssize_t>(count.size()));
      kafka::OutboundRecord out;
      out.topic = target;
      out.key = message->key;
      out.key_size = message->key_len;
      out.value = envelope.value ? std::string_view(*envelope.value) : std::string_view();
      out.null_value = !envelope.value;
      out.headers = std::move(headers);
      while (true) {
        rd_kafka_resp_err_t produce_error = producer->produce(out);
        if (produce_error == RD_KAFKA_RESP_ERR_NO_ERROR) break;
        if (produce_error != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
          summary.failed += 1;
          std::cerr << "replay: cannot produce " << where << ": " << kafka::error_name(produce_error) << "\n";
          break;
        }
        producer->poll(std::chrono::milliseconds(50));
      }
      summary.replayed += 1;
    }
    if (options.limit >= 0 && summary.replayed >= options.limit) limit_reached = true;
    if (options.rate > 0) {
      // Pace by the schedule since the start, so short stalls are caught up smoothly.
      auto due = started + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(static_cast<double>(summary.replayed) / options.rate));
      std::this_thread::sleep_until(due);
    }
    if (Clock::now() - last_progress >= std::chrono::seconds(1)) {
      last_progress = Clock::now();
      std::cerr << "replay: scanned " << summary.scanned << (options.dry_run ? ", would replay " : ", replayed ")
                << summary.replayed << ", skipped "
                << summary.loop_guarded + summary.unreplayable << "\n";
    }
  }
  if (producer) {
    int outstanding = producer->flush(std::chrono::seconds(60));
    if (outstanding > 0) summary.failed += outstanding;
    summary.replayed = acknowledged;
  }
  rd_kafka_consumer_close(consumer.get());
  std::cout << (options.dry_run ? "dry run: " : "") << "scanned " << summary.scanned << ", selected "
            << summary.selected << (options.dry_run ? ", would replay " : ", replayed ") << summary.replayed
            << ", skipped by loop guard "
            << summary.loop_guarded << ", not replayable " << summary.unreplayable << ", failed " << summary.failed
            << "\n";
  if (summary_out != nullptr) *summary_out = summary;
  if (summary.failed > 0) return 1;
  if (summary.loop_guarded > 0 || summary.unreplayable > 0) return 3;
  return 0;
}

}  // namespace sluice::app
