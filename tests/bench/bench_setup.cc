#include "bench/bench_setup.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <set>
#include <stdexcept>

#include "bench/bench_config.h"
#include "devtools/kafka_tools.h"
#include "support/wait.h"

namespace sluice::bench {
namespace {

using namespace std::chrono_literals;
using devtools::Expected;
using devtools::MixRecord;

// What the bench lets each partition hold; the broker keeps about 5 MiB.
constexpr double kBytesPerPartition = 2.5 * 1024 * 1024;

// --- processes -----------------------------------------------------------------------------

std::string self_path() {
  char buffer[4096];
  ssize_t length = readlink("/proc/self/exe", buffer, sizeof buffer - 1);
  if (length <= 0) throw std::runtime_error("cannot resolve /proc/self/exe");
  return std::string(buffer, static_cast<size_t>(length));
}

// Partitions per topic so that no partition holds more than kBytesPerPartition.
int partitions_for(double bytes) { return std::max(2, static_cast<int>(std::ceil(bytes / kBytesPerPartition))); }

}  // namespace

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

Broker::Broker(const std::map<std::string, int>& topics) {
  std::string bootstrap_file = dir_.file("bootstrap");
  std::vector<std::string> argv = {SLUICE_DEVBROKER_BIN, "--brokers", "1", "--bootstrap-file", bootstrap_file,
                                   "--max-lifetime", "3600"};
  for (const auto& [name, partitions] : topics) {
    argv.push_back("--topic");
    argv.push_back(name + ":" + std::to_string(partitions));
  }
  process_ = std::make_unique<test::ChildProcess>(argv, dir_.file("stdout"), dir_.file("stderr"));
  bool ready =
      test::wait_until([&] { return access(bootstrap_file.c_str(), R_OK) == 0 || !process_->running(); }, 20s);
  if (!ready || !process_->running()) {
    throw std::runtime_error("sluice-devbroker did not start: " + test::read_file(dir_.file("stderr")));
  }
  bootstrap_ = test::read_file(bootstrap_file);
  while (!bootstrap_.empty() && (bootstrap_.back() == '\n' || bootstrap_.back() == '\r')) bootstrap_.pop_back();
}

Broker::~Broker() {
  process_->signal(SIGTERM);
  if (!process_->wait(5s)) process_->signal(SIGKILL);
}

// --- Kafka helpers -------------------------------------------------------------------------

std::map<std::string, int> inbound_of(const std::map<std::string, int>& layout) {
  std::map<std::string, int> inbound;
  for (const std::string& topic : kInboundTopics) inbound[topic] = layout.at(topic);
  return inbound;
}

std::string one_line(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r' || c == '|') c = ' ';
  }
  return text.size() > 400 ? text.substr(0, 400) + "..." : text;
}

void produce_corpus(const std::string& bootstrap, const std::vector<MixRecord>& mix) {
  devtools::RecordProducer producer(bootstrap);
  for (const MixRecord& entry : mix) producer.produce(entry.record);
  producer.flush();
}

// --- the process under test ----------------------------------------------------------------

Corpus make_corpus(int count, const std::string& id_prefix, uint64_t seed) {
  Corpus corpus;
  devtools::MixOptions options;
  options.count = count;
  options.seed = seed;
  options.id_prefix = id_prefix;
  corpus.mix = devtools::make_mix(options);
  std::set<std::string> groups;
  for (const MixRecord& entry : corpus.mix) {
    corpus.bytes += static_cast<int64_t>(entry.record.value ? entry.record.value->size() : 0);
    if (entry.expected == Expected::Forwarded || entry.expected == Expected::Duplicate) {
      groups.insert(entry.content_group);
    } else if (entry.expected == Expected::DeadLetter) {
      ++corpus.dead_letters;
    }
    std::string kind = entry.expected == Expected::Forwarded   ? "valid"
                       : entry.expected == Expected::Duplicate ? "duplicate"
                       : entry.expected == Expected::Filtered  ? "filtered"
                                                               : "dlq";
    corpus.kinds[kind] += 1;
  }
  corpus.forwarded = static_cast<int64_t>(groups.size());
  return corpus;
}

std::map<std::string, int> topic_layout(const Corpus& corpus) {
  // DLQ envelopes carry the original plus metadata: count them at three times the input.
  double average = static_cast<double>(corpus.bytes) / static_cast<double>(std::max<size_t>(1, corpus.mix.size()));
  double half = static_cast<double>(corpus.bytes) / 2;
  // The shipped tiers, with as many partitions as the larger inbound topic: retry.ordering: key
  // needs a tier partition for every input partition's number. They stay empty while nothing fails.
  std::map<std::string, int> layout;
  for (const char* tier : {"retry.10s", "retry.30s", "retry.60s", "retry.300s", "retry.900s"}) {
    layout[tier] = partitions_for(half * 1.4);
  }
  layout.merge(std::map<std::string, int>{{"inbound.email", partitions_for(half * 1.4)},
          {"inbound.whatsapp", partitions_for(half)},
          {"clean.email", partitions_for(half)},
          {"clean.whatsapp", partitions_for(half)},
          {"dlq", partitions_for(static_cast<double>(corpus.dead_letters) * (average * 3 + 600))},
          // The bare copy keeps each record's partition number, so its outputs have its inputs' counts.
          {std::string(kBarePrefix) + "email", partitions_for(half * 1.4)},
          {std::string(kBarePrefix) + "whatsapp", partitions_for(half)}});
  return layout;
}

// The dev broker finds a fetch's start offset by walking the partition's batches from the
// oldest, so its work per fetch grows with the batches it keeps. With the throughput layout
// (about 20 input partitions of small batches at 10 000 msgs/s) that walk was 88 % of the
// broker's samples, the broker used a whole core after 6 s, and the latency of bare and sluice
// alike grew from 10 to 50 ms over a 20 s run: the runs measured the broker's queue. One
// partition per topic holds the fewest batches (at most 5 MiB of them; older ones are evicted).
// Eviction loses nothing unnoticed: the consumers are at the end of the log, sluice and the
// bare copy run with auto.offset.reset=error, and the reader counts every expected output.
std::map<std::string, int> latency_layout() {
  std::map<std::string, int> layout = {{"inbound.email", 1},
                                       {"inbound.whatsapp", 1},
                                       {std::string(kBarePrefix) + "email", 1},
                                       {std::string(kBarePrefix) + "whatsapp", 1}};
  for (const std::string& topic : kSluiceOutputs) layout[topic] = 1;
  return layout;
}

Runner::Runner(const ScenarioSpec& spec, const std::string& bootstrap, int fetch_wait_ms,
               const std::string& redis_url, const std::string& http_url) {
  if (spec.subject == Subject::Bare) {
    BareOptions bare = spec.bare;
    bare.bootstrap = bootstrap;
    bare.group = kBareGroup;
    bare.topics = kInboundTopics;
    bare.output_prefix = kBarePrefix;
    bare.fetch_wait_ms = fetch_wait_ms;
    std::vector<std::string> argv = {self_path(), "bare"};
    for (std::string& arg : bare_arguments(bare)) argv.push_back(std::move(arg));
    log_path_ = dir_.file("bare.log");
    process_ = std::make_unique<test::ChildProcess>(argv, log_path_, log_path_);
    return;
  }
  SluiceSettings settings;
  settings.dedup = spec.dedup;
  settings.redis_url = redis_url;
  settings.exactly_once = spec.exactly_once;
  settings.key_order = spec.key_order;
  settings.fetch_wait_ms = fetch_wait_ms;
  if (spec.subject == Subject::SluiceHttp) {
    settings.http_url = http_url;
    settings.pipeline_depth = spec.pipeline_depth;
    settings.http_batch = spec.http_batch;
  }
  std::string config_path = dir_.file("sluice.yaml");
  test::write_file(config_path, shipped_config(settings));
  log_path_ = dir_.file("sluice.log");
  process_ = std::make_unique<test::ChildProcess>(
      std::vector<std::string>{SLUICE_BIN, "run", "--config", config_path}, log_path_, log_path_,
      std::map<std::string, std::string>{{"KAFKA_BROKERS", bootstrap}, {"STATE_DIRECTORY", dir_.path()}});
}

Runner::~Runner() {
  if (process_->running()) {
    process_->signal(SIGKILL);
    process_->wait(10s);
  }
}

std::string Runner::log_tail() const {
  std::string text = test::read_file(log_path_);
  return text.size() > 2000 ? text.substr(text.size() - 2000) : text;
}

bool Runner::wait_joined(std::chrono::milliseconds timeout) {
  return test::wait_until([&] { return test::read_file(log_path_).find("partitions assigned") != std::string::npos; },
                          timeout, 5ms);
}

std::optional<uint16_t> Runner::admin_port() const {
  const std::string text = test::read_file(log_path_);
  size_t line = text.rfind("\"msg\":\"admin server listening\"");
  if (line == std::string::npos) return std::nullopt;
  size_t at = text.find("\"port\":", line);
  if (at == std::string::npos) return std::nullopt;
  int port = std::atoi(text.c_str() + at + 7);
  if (port <= 0 || port > 65535) return std::nullopt;
  return static_cast<uint16_t>(port);
}

std::optional<int> Runner::stop() {
  process_->signal(SIGTERM);
  return process_->wait(60s);
}

}  // namespace sluice::bench
