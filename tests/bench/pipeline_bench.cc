// sluice-bench: end-to-end measurements against dev brokers (scripts/bench runs it).
//
//   sluice-bench run [--messages N] [--rounds N] [--latency-rate R] [--latency-seconds S] [--quick]
//                    [--scenarios bare,memory,sqlite,redis,exactly-once,http,http-pipelined]
//                    [--no-latency] [--no-idle]
//                    [--latency-dedup memory|sqlite|redis[,...]] [--latency-rounds N]
//                    [--microbench-json FILE] [--out DIR]
//       every scenario against a fresh sluice-devbroker, the throughput scenarios taking
//       turns for --rounds rounds (default 3); writes DIR/report.md and DIR/report.json and
//       prints the Markdown
//   sluice-bench bare --bootstrap B --topics T1,T2 --to TOPIC [--fetch-wait-ms N]
//       the physical limit: a plain librdkafka consume→produce copy with the same client
//       settings as sluice (idempotent producer, acks=all, linger.ms=5), no parsing; runs
//       until SIGTERM
//
// The broker keeps about 5 MiB per partition, so every topic of a throughput scenario gets
// enough partitions that nothing is evicted, and every consumer runs with
// auto.offset.reset=error: a record evicted before it was read fails the run instead of being
// skipped quietly. Latency runs use one partition per topic instead (see latency_layout()).

#include <signal.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <librdkafka/rdkafka.h>

#include "bench/bench_http_sink.h"
#include "bench/bench_report.h"
#include "devtools/kafka_tools.h"
#include "devtools/message_mix.h"
#include "kafka/handles.h"
#include "support/process.h"
#include "support/redis_server.h"
#include "support/sluice_daemon.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace sluice::bench {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using devtools::Expected;
using devtools::MixRecord;

const std::vector<std::string> kInboundTopics = {"inbound.email", "inbound.whatsapp"};
const std::vector<std::string> kSluiceOutputs = {"clean.email", "clean.whatsapp", "dlq"};
constexpr char kBareOutput[] = "bare.out";
constexpr char kBareGroup[] = "bare";
constexpr int kSluiceMaxInFlightRecords = 100'000;
constexpr char kSluiceGroup[] = "sluice-bench";
// What the bench lets each partition hold; the broker keeps about 5 MiB.
constexpr double kBytesPerPartition = 2.5 * 1024 * 1024;
constexpr auto kSamplePeriod = 50ms;
constexpr auto kLatencyWarmUp = 2s;
// A latency run whose broker used this much of a core measured the broker's queue.
constexpr double kSaturatedBrokerShare = 0.8;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// --- processes -----------------------------------------------------------------------------

// utime + stime from a /proc stat file, in seconds, and the command name in it; -1 once the
// process or thread is gone.
double cpu_seconds_of(const std::string& stat_path, std::string* name = nullptr) {
  std::ifstream in(stat_path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t open = text.find('(');
  size_t paren = text.rfind(')');  // the command name may contain spaces
  if (open == std::string::npos || paren == std::string::npos || paren + 2 > text.size()) return -1;
  if (name != nullptr) *name = text.substr(open + 1, paren - open - 1);
  std::istringstream fields(text.substr(paren + 2));
  std::string field;
  // After the name: state(3) ... utime(14) stime(15), counting from pid as field 1.
  double utime = 0, stime = 0;
  for (int index = 3; index <= 15 && fields >> field; ++index) {
    if (index == 14) utime = std::stod(field);
    if (index == 15) stime = std::stod(field);
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// utime + stime of a process, in seconds; -1 once it is gone.
double cpu_seconds(pid_t pid) { return cpu_seconds_of("/proc/" + std::to_string(pid) + "/stat"); }

// CPU seconds of a process's threads, summed by thread name.
std::map<std::string, double> thread_cpu_seconds(pid_t pid) {
  std::map<std::string, double> by_name;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", error)) {
    std::string name;
    const double seconds = cpu_seconds_of((entry.path() / "stat").string(), &name);
    if (seconds >= 0) by_name[name] += seconds;
  }
  return by_name;
}

// What each thread name used between two thread_cpu_seconds() samples, largest first.
std::vector<std::pair<std::string, double>> thread_cpu_delta(const std::map<std::string, double>& before,
                                                             const std::map<std::string, double>& after) {
  std::vector<std::pair<std::string, double>> delta;
  for (const auto& [name, seconds] : after) {
    auto earlier = before.find(name);
    const double used = seconds - (earlier != before.end() ? earlier->second : 0);
    if (used > 0) delta.emplace_back(name, used);
  }
  std::sort(delta.begin(), delta.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  return delta;
}

// A /proc/<pid>/status field in kB, as bytes; -1 when absent.
int64_t status_bytes(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stoll(line.substr(field.size() + 1)) * 1024;
  }
  return -1;
}

// The child of this process running `command` (RedisServer keeps its pid to itself); -1 if none.
pid_t child_named(const std::string& command) {
  const pid_t self = getpid();
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", error)) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "stat");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    size_t open = text.find('(');
    size_t close = text.rfind(')');
    if (open == std::string::npos || close == std::string::npos || close + 2 > text.size()) continue;
    std::istringstream rest(text.substr(close + 2));
    std::string state;
    pid_t parent = 0;
    rest >> state >> parent;
    if (parent == self && text.substr(open + 1, close - open - 1) == command) return std::stoi(name);
  }
  return -1;
}

std::string self_path() {
  char buffer[4096];
  ssize_t length = readlink("/proc/self/exe", buffer, sizeof buffer - 1);
  if (length <= 0) throw std::runtime_error("cannot resolve /proc/self/exe");
  return std::string(buffer, static_cast<size_t>(length));
}

// A private sluice-devbroker, started like tests/support's DevBroker but with its pid at hand.
class Broker {
 public:
  explicit Broker(const std::map<std::string, int>& topics) {
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
  ~Broker() {
    process_->signal(SIGTERM);
    if (!process_->wait(5s)) process_->signal(SIGKILL);
  }

  const std::string& bootstrap() const { return bootstrap_; }
  pid_t pid() const { return process_->pid(); }

 private:
  test::TempDir dir_;
  std::unique_ptr<test::ChildProcess> process_;
  std::string bootstrap_;
};

// --- Kafka helpers -------------------------------------------------------------------------

kafka::HandlePtr make_client(rd_kafka_type_t type, const std::map<std::string, std::string>& properties,
                             rd_kafka_conf_t* conf = nullptr) {
  if (conf == nullptr) conf = rd_kafka_conf_new();
  char error[512];
  for (const auto& [name, value] : properties) {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), error, sizeof error) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      throw std::runtime_error(name + ": " + error);
    }
  }
  rd_kafka_t* handle = rd_kafka_new(type, conf, error, sizeof error);
  if (handle == nullptr) {
    rd_kafka_conf_destroy(conf);
    throw std::runtime_error(std::string("rd_kafka_new: ") + error);
  }
  return kafka::HandlePtr(handle);
}

// Sums the end offsets of whole topics with one ListOffsets request per poll, so watching
// progress costs the broker next to nothing.
class EndOffsetWatcher {
 public:
  EndOffsetWatcher(const std::string& bootstrap, const std::map<std::string, int>& topics)
      : handle_(make_client(RD_KAFKA_CONSUMER, {{"bootstrap.servers", bootstrap}, {"log_level", "3"}})),
        topics_(topics) {}

  // -1 when the broker did not answer in time.
  int64_t total() {
    kafka::PartitionListPtr list(rd_kafka_topic_partition_list_new(64));
    for (const auto& [topic, partitions] : topics_) {
      for (int partition = 0; partition < partitions; ++partition) {
        rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), partition)->offset = RD_KAFKA_OFFSET_END;
      }
    }
    if (rd_kafka_offsets_for_times(handle_.get(), list.get(), 5000) != RD_KAFKA_RESP_ERR_NO_ERROR) return -1;
    int64_t sum = 0;
    for (int i = 0; i < list->cnt; ++i) {
      if (list->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR || list->elems[i].offset < 0) return -1;
      sum += list->elems[i].offset;
    }
    return sum;
  }

 private:
  kafka::HandlePtr handle_;
  std::map<std::string, int> topics_;
};

// Commits offset 0 for `group` on every partition of `topics` without joining the group.
// With auto.offset.reset=error a group without committed offsets could not even start; with
// these, it starts at the beginning, and finds it gone only if the broker evicted it.
void commit_start_offsets(const std::string& bootstrap, const std::string& group,
                          const std::map<std::string, int>& topics) {
  kafka::HandlePtr handle = make_client(RD_KAFKA_CONSUMER, {{"bootstrap.servers", bootstrap},
                                                            {"group.id", group},
                                                            {"enable.auto.commit", "false"},
                                                            {"log_level", "3"}});
  kafka::PartitionListPtr list(rd_kafka_topic_partition_list_new(64));
  for (const auto& [topic, partitions] : topics) {
    for (int partition = 0; partition < partitions; ++partition) {
      rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), partition)->offset = 0;
    }
  }
  rd_kafka_resp_err_t error = RD_KAFKA_RESP_ERR_NO_ERROR;
  // The group coordinator may take a moment to be known right after the broker started.
  for (int attempt = 0; attempt < 50; ++attempt) {
    error = rd_kafka_commit(handle.get(), list.get(), 0);
    if (error == RD_KAFKA_RESP_ERR_NO_ERROR) break;
    std::this_thread::sleep_for(100ms);
  }
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw std::runtime_error(std::string("committing start offsets: ") + rd_kafka_err2str(error));
  }
  rd_kafka_consumer_close(handle.get());
}

std::map<std::string, int> inbound_of(const std::map<std::string, int>& layout) {
  std::map<std::string, int> inbound;
  for (const std::string& topic : kInboundTopics) inbound[topic] = layout.at(topic);
  return inbound;
}

// Error text fit for one table cell.
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

// --- bare: the consume→produce copy ----------------------------------------------------------

std::atomic<bool> bare_stop{false};

void bare_rebalance(rd_kafka_t* handle, rd_kafka_resp_err_t error, rd_kafka_topic_partition_list_t* partitions,
                    void*) {
  if (error == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    rd_kafka_assign(handle, partitions);
    // The driver times the run from this line, as it does from sluice's log line.
    std::printf("partitions assigned %d\n", partitions->cnt);
    std::fflush(stdout);
  } else {
    rd_kafka_assign(handle, nullptr);
  }
}

std::atomic<int64_t> bare_delivery_failures{0};

void bare_delivered(rd_kafka_t*, const rd_kafka_message_t* message, void*) {
  if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) bare_delivery_failures.fetch_add(1);
}

int run_bare(const std::string& bootstrap, const std::vector<std::string>& topics, const std::string& to,
             int fetch_wait_ms) {
  signal(SIGTERM, [](int) { bare_stop = true; });
  signal(SIGINT, [](int) { bare_stop = true; });
  // The same client settings sluice's engine uses, so the difference is sluice's own work.
  rd_kafka_conf_t* consumer_conf = rd_kafka_conf_new();
  rd_kafka_conf_set_rebalance_cb(consumer_conf, bare_rebalance);
  kafka::HandlePtr consumer = make_client(RD_KAFKA_CONSUMER,
                                          {{"bootstrap.servers", bootstrap},
                                           {"group.id", kBareGroup},
                                           {"auto.offset.reset", "error"},
                                           {"enable.partition.eof", "false"},
                                           {"socket.nagle.disable", "true"},
                                           {"queued.max.messages.kbytes", "16384"},
                                           {"fetch.wait.max.ms", std::to_string(fetch_wait_ms)},
                                           {"session.timeout.ms", "6000"},
                                           {"heartbeat.interval.ms", "500"}},
                                          consumer_conf);
  rd_kafka_conf_t* producer_conf = rd_kafka_conf_new();
  rd_kafka_conf_set_dr_msg_cb(producer_conf, bare_delivered);
  kafka::HandlePtr producer = make_client(RD_KAFKA_PRODUCER,
                                          {{"bootstrap.servers", bootstrap},
                                           {"enable.idempotence", "true"},
                                           {"acks", "all"},
                                           {"linger.ms", "5"},
                                           {"socket.nagle.disable", "true"}},
                                          producer_conf);
  rd_kafka_poll_set_consumer(consumer.get());
  kafka::PartitionListPtr subscription(rd_kafka_topic_partition_list_new(static_cast<int>(topics.size())));
  for (const std::string& topic : topics) {
    rd_kafka_topic_partition_list_add(subscription.get(), topic.c_str(), RD_KAFKA_PARTITION_UA);
  }
  if (rd_kafka_subscribe(consumer.get(), subscription.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    std::fprintf(stderr, "bare: subscribe failed\n");
    return 1;
  }
  int status = 0;
  while (!bare_stop) {
    kafka::MessagePtr message(rd_kafka_consumer_poll(consumer.get(), 100));
    rd_kafka_poll(producer.get(), 0);
    if (!message) continue;
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::fprintf(stderr, "bare: consume error: %s\n", rd_kafka_message_errstr(message.get()));
      status = 1;
      break;
    }
    rd_kafka_headers_t* headers = nullptr;
    rd_kafka_message_detach_headers(message.get(), &headers);
    while (true) {
      rd_kafka_resp_err_t error =
          rd_kafka_producev(producer.get(), RD_KAFKA_V_TOPIC(to.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                            RD_KAFKA_V_KEY(message->key, message->key_len),
                            RD_KAFKA_V_VALUE(message->payload, message->len), RD_KAFKA_V_HEADERS(headers),
                            RD_KAFKA_V_END);
      if (error == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      if (error != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        std::fprintf(stderr, "bare: produce error: %s\n", rd_kafka_err2str(error));
        if (headers != nullptr) rd_kafka_headers_destroy(headers);
        return 1;
      }
      rd_kafka_poll(producer.get(), 10);
    }
  }
  rd_kafka_flush(producer.get(), 10'000);
  rd_kafka_consumer_close(consumer.get());
  if (bare_delivery_failures > 0) {
    std::fprintf(stderr, "bare: %lld deliveries failed\n", static_cast<long long>(bare_delivery_failures.load()));
    status = 1;
  }
  return status;
}

// --- the process under test ----------------------------------------------------------------

struct Corpus {
  std::vector<MixRecord> mix;
  int64_t bytes = 0;
  int64_t forwarded = 0;  // distinct content groups: what reaches a route
  int64_t dead_letters = 0;
  std::map<std::string, int64_t> kinds;
};

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

enum class Subject { Bare, SluiceTopic, SluiceHttp };

struct ScenarioSpec {
  std::string name;
  Subject subject = Subject::SluiceTopic;
  std::string dedup = "memory";
  std::string what;
  int pipeline_depth = 1;  // HTTP routes
  bool exactly_once = false;  // kafka.delivery: exactly_once
};

// Partitions per topic so that no partition holds more than kBytesPerPartition.
int partitions_for(double bytes) { return std::max(2, static_cast<int>(std::ceil(bytes / kBytesPerPartition))); }

std::map<std::string, int> topic_layout(const Corpus& corpus) {
  // DLQ envelopes carry the original plus metadata: count them at three times the input.
  double average = static_cast<double>(corpus.bytes) / static_cast<double>(std::max<size_t>(1, corpus.mix.size()));
  double half = static_cast<double>(corpus.bytes) / 2;
  return {{"inbound.email", partitions_for(half * 1.4)},
          {"inbound.whatsapp", partitions_for(half)},
          {"clean.email", partitions_for(half)},
          {"clean.whatsapp", partitions_for(half)},
          {"dlq", partitions_for(static_cast<double>(corpus.dead_letters) * (average * 3 + 600))},
          {kBareOutput, partitions_for(static_cast<double>(corpus.bytes) * 1.1)}};
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
  std::map<std::string, int> layout = {{"inbound.email", 1}, {"inbound.whatsapp", 1}, {kBareOutput, 1}};
  for (const std::string& topic : kSluiceOutputs) layout[topic] = 1;
  return layout;
}

// A running sluice or bare copy with its log, started against `broker`.
class Runner {
 public:
  Runner(const ScenarioSpec& spec, const std::string& bootstrap, int fetch_wait_ms, const std::string& redis_url,
         const std::string& http_url) {
    if (spec.subject == Subject::Bare) {
      log_path_ = dir_.file("bare.log");
      process_ = std::make_unique<test::ChildProcess>(
          std::vector<std::string>{self_path(), "bare", "--bootstrap", bootstrap, "--topics",
                                   "inbound.email,inbound.whatsapp", "--to", kBareOutput, "--fetch-wait-ms",
                                   std::to_string(fetch_wait_ms)},
          log_path_, log_path_);
      return;
    }
    test::TestConfig config;
    config.bootstrap = bootstrap;
    config.group_id = kSluiceGroup;
    config.dedup_backend = spec.dedup;
    if (!redis_url.empty()) config.redis_url = redis_url;
    config.commit_interval = "1s";  // the default; it also sets how often SQLite commits
    // The bare copy's only bound on records between consume and acknowledgement is
    // librdkafka's producer queue (queue.buffering.max.messages, 100 000); sluice gets the
    // same instead of its default 20 000. The dev broker acknowledges slowly when the machine
    // is saturated (40 % of produces take over 100 ms), and at 20 000 the pipeline stalled
    // waiting for acknowledgements: about 13 % of the throughput.
    config.max_in_flight_records = kSluiceMaxInFlightRecords;
    config.admin_listen = "127.0.0.1:0";
    if (spec.exactly_once) {
      config.delivery = "exactly_once";
      config.transactional_id = "sluice-bench";
    }
    config.extra_kafka_properties["fetch.wait.max.ms"] = std::to_string(fetch_wait_ms);
    // librdkafka's default, as the bare copy has it. The test config's 2 s (for tests that
    // create topics or fail brokers) makes the consumer refresh metadata every 2 s, and each
    // refresh held up its next fetch by about 50 ms on this machine: most of the p99 gap.
    config.extra_kafka_properties["topic.metadata.refresh.interval.ms"] = "300000";
    if (spec.subject == Subject::SluiceHttp) {
      const std::string http = "{url: \"" + http_url + "\", pipeline_depth: " + std::to_string(spec.pipeline_depth) + "}";
      config.routes_yaml = "  - match: {channel: email}\n    http: " + http + "\n  - match: {channel: whatsapp}\n    http: " +
                           http + "\n";
    }
    std::string yaml = test::render_config(config, dir_.path());
    // A record evicted before it was read must fail the run, not be skipped.
    size_t at = yaml.find("  properties:\n");
    if (at == std::string::npos) throw std::runtime_error("unexpected test config layout");
    yaml.insert(at, "  consumer_properties:\n    auto.offset.reset: error\n");
    std::string config_path = dir_.file("sluice.yaml");
    test::write_file(config_path, yaml);
    log_path_ = dir_.file("sluice.log");
    process_ = std::make_unique<test::ChildProcess>(
        std::vector<std::string>{SLUICE_BIN, "run", "--config", config_path}, log_path_, log_path_);
  }

  ~Runner() {
    if (process_->running()) {
      process_->signal(SIGKILL);
      process_->wait(10s);
    }
  }

  pid_t pid() const { return process_->pid(); }
  bool running() { return process_->running(); }
  std::string log_tail() const {
    std::string text = test::read_file(log_path_);
    return text.size() > 2000 ? text.substr(text.size() - 2000) : text;
  }
  // Waits for the first "partitions assigned" line; false when the process died or timed out.
  bool wait_joined(std::chrono::milliseconds timeout) {
    return test::wait_until([&] { return test::read_file(log_path_).find("partitions assigned") != std::string::npos; },
                            timeout, 5ms);
  }
  // SIGTERM and the exit status (nullopt when it did not stop in time).
  std::optional<int> stop() {
    process_->signal(SIGTERM);
    return process_->wait(60s);
  }

 private:
  test::TempDir dir_;
  std::string log_path_;
  std::unique_ptr<test::ChildProcess> process_;
};

// --- throughput ----------------------------------------------------------------------------

ThroughputResult run_throughput(const ScenarioSpec& spec, const Corpus& corpus) {
  ThroughputResult result;
  result.scenario = spec.name;
  result.what = spec.what;
  result.input_messages = static_cast<int64_t>(corpus.mix.size());
  result.input_bytes = corpus.bytes;
  std::fprintf(stderr, "== throughput: %s\n", spec.name.c_str());
  try {
    std::map<std::string, int> layout = topic_layout(corpus);
    Broker broker(layout);
    auto preload_started = Clock::now();
    produce_corpus(broker.bootstrap(), corpus.mix);
    std::fprintf(stderr, "   preloaded %zu records in %.1f s\n", corpus.mix.size(), seconds_since(preload_started));

    std::unique_ptr<test::RedisServer> redis;
    pid_t redis_pid = -1;
    if (spec.dedup == "redis") {
      redis = std::make_unique<test::RedisServer>();
      redis_pid = child_named("redis-server");
    }
    std::unique_ptr<HttpSink> http;
    if (spec.subject == Subject::SluiceHttp) http = std::make_unique<HttpSink>();

    std::map<std::string, int> outputs;
    int64_t expected = 0;
    if (spec.subject == Subject::Bare) {
      outputs[kBareOutput] = layout.at(kBareOutput);
      expected = result.input_messages;
    } else if (spec.subject == Subject::SluiceHttp) {
      outputs["dlq"] = layout.at("dlq");
      expected = corpus.forwarded + corpus.dead_letters;
    } else {
      for (const std::string& topic : kSluiceOutputs) outputs[topic] = layout.at(topic);
      expected = corpus.forwarded + corpus.dead_letters;
    }
    EndOffsetWatcher watcher(broker.bootstrap(), outputs);
    auto arrived = [&]() -> int64_t {
      int64_t total = watcher.total();
      if (total < 0) return -1;
      return total + (http ? http->requests() : 0);
    };

    commit_start_offsets(broker.bootstrap(), spec.subject == Subject::Bare ? kBareGroup : kSluiceGroup,
                         inbound_of(layout));
    Runner runner(spec, broker.bootstrap(), 10, redis ? redis->url() : "", http ? http->url() : "");
    if (!runner.wait_joined(60s)) throw std::runtime_error("no group join within 60 s: " + runner.log_tail());
    const auto start = Clock::now();
    const double subject_cpu_start = cpu_seconds(runner.pid());
    const std::map<std::string, double> subject_threads_start = thread_cpu_seconds(runner.pid());
    const double broker_cpu_start = cpu_seconds(broker.pid());
    const double redis_cpu_start = redis_pid > 0 ? cpu_seconds(redis_pid) : 0;

    // Generous: a tenth of the slowest rate anyone would accept, plus start-up.
    const auto deadline = start + std::chrono::seconds(60 + result.input_messages / 1000);
    std::vector<std::pair<double, int64_t>> samples;
    int64_t done = 0;
    while (true) {
      done = arrived();
      double at = seconds_since(start);
      if (done >= 0) samples.emplace_back(at, done);
      if (done >= expected) break;
      if (!runner.running()) throw std::runtime_error("the process under test exited: " + runner.log_tail());
      if (Clock::now() > deadline) {
        throw std::runtime_error("only " + std::to_string(done) + " of " + std::to_string(expected) +
                                 " outputs arrived in time");
      }
      std::this_thread::sleep_for(kSamplePeriod);
    }
    result.seconds = seconds_since(start);
    result.subject_cpu_seconds = cpu_seconds(runner.pid()) - subject_cpu_start;
    result.subject_thread_cpu_seconds = thread_cpu_delta(subject_threads_start, thread_cpu_seconds(runner.pid()));
    result.broker_cpu_seconds = cpu_seconds(broker.pid()) - broker_cpu_start;
    if (redis_pid > 0) result.redis_cpu_seconds = cpu_seconds(redis_pid) - redis_cpu_start;
    result.subject_peak_rss = status_bytes(runner.pid(), "VmHWM");
    result.broker_peak_rss = status_bytes(broker.pid(), "VmHWM");
    result.outputs = done;

    // The steady part: from 10% to 90% of the outputs.
    auto time_at = [&](double fraction) {
      for (const auto& [at, count] : samples) {
        if (static_cast<double>(count) >= fraction * static_cast<double>(expected)) return at;
      }
      return result.seconds;
    };
    // Outputs arrive in produce batches, so a window of only a few samples says nothing:
    // then there is no steady figure (a short run is mostly start-up anyway).
    double steady = time_at(0.9) - time_at(0.1);
    result.steady_rate = steady >= 20 * std::chrono::duration<double>(kSamplePeriod).count()
                             ? 0.8 * static_cast<double>(result.input_messages) / steady
                             : 0;

    std::optional<int> status = runner.stop();
    if (!status || *status != 0) {
      throw std::runtime_error("did not exit cleanly after SIGTERM (status " + std::to_string(status.value_or(-1)) +
                               "): " + runner.log_tail());
    }
    // With exactly-once the offsets go with the transactions, which the dev broker takes but
    // keeps nothing of: there is no committed offset to look at.
    if (spec.subject != Subject::Bare && !spec.exactly_once &&
        !devtools::group_caught_up(broker.bootstrap(), kSluiceGroup, kInboundTopics)) {
      throw std::runtime_error("offsets not committed to the end after the drain");
    }
    int64_t after = arrived();
    if (after > expected) {
      throw std::runtime_error(std::to_string(after - expected) + " outputs more than expected (duplicates forwarded)");
    }
    result.ok = true;
    std::fprintf(stderr, "   %.0f msgs/s (steady %.0f), %.1f s\n", result.rate(), result.steady_rate, result.seconds);
  } catch (const std::exception& error) {
    result.ok = false;
    result.error = one_line(error.what());
    std::fprintf(stderr, "   FAILED: %s\n", error.what());
  }
  return result;
}

// --- latency -------------------------------------------------------------------------------

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

double percentile(std::vector<int64_t>& sorted, double fraction) {
  if (sorted.empty()) return 0;
  size_t index = static_cast<size_t>(std::ceil(fraction * static_cast<double>(sorted.size()))) - 1;
  return static_cast<double>(sorted[std::min(index, sorted.size() - 1)]) / 1e6;
}

LatencyResult run_latency(const ScenarioSpec& spec, double rate, double seconds, uint64_t seed) {
  LatencyResult result;
  result.scenario = spec.name;
  result.rate = rate;
  result.seconds = seconds;
  std::fprintf(stderr, "== latency: %s at %.0f msgs/s for %.0f s\n", spec.name.c_str(), rate, seconds);
  try {
    const std::string prefix = "lat-";
    Corpus corpus = make_corpus(static_cast<int>(rate * seconds), prefix, seed);
    std::map<std::string, int> layout = latency_layout();
    Broker broker(layout);
    std::unique_ptr<test::RedisServer> redis;
    if (spec.dedup == "redis") redis = std::make_unique<test::RedisServer>();
    std::vector<std::string> outputs =
        spec.subject == Subject::Bare ? std::vector<std::string>{kBareOutput} : kSluiceOutputs;
    result.expected = spec.subject == Subject::Bare ? static_cast<int64_t>(corpus.mix.size())
                                                    : corpus.forwarded + corpus.dead_letters;

    commit_start_offsets(broker.bootstrap(), spec.subject == Subject::Bare ? kBareGroup : kSluiceGroup,
                         inbound_of(layout));
    Runner runner(spec, broker.bootstrap(), 5, redis ? redis->url() : "", "");
    if (!runner.wait_joined(60s)) throw std::runtime_error("no group join within 60 s: " + runner.log_tail());

    // The reading side: every partition of the outputs from the beginning, no group.
    const size_t count = corpus.mix.size();
    std::unique_ptr<std::atomic<int64_t>[]> sent_at(new std::atomic<int64_t>[count]);
    for (size_t i = 0; i < count; ++i) sent_at[i].store(0, std::memory_order_relaxed);
    kafka::HandlePtr reader = make_client(RD_KAFKA_CONSUMER, {{"bootstrap.servers", broker.bootstrap()},
                                                              {"group.id", "bench-latency-reader"},
                                                              {"enable.auto.commit", "false"},
                                                              {"fetch.wait.max.ms", "5"},
                                                              {"socket.nagle.disable", "true"},
                                                              {"enable.partition.eof", "false"}});
    rd_kafka_poll_set_consumer(reader.get());
    kafka::PartitionListPtr assignment(rd_kafka_topic_partition_list_new(64));
    for (const std::string& topic : outputs) {
      for (int partition = 0; partition < layout.at(topic); ++partition) {
        rd_kafka_topic_partition_list_add(assignment.get(), topic.c_str(), partition)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
      }
    }
    rd_kafka_assign(reader.get(), assignment.get());
    std::atomic<bool> reading{true};
    std::vector<int64_t> latencies;
    std::atomic<int64_t> received{0};
    std::atomic<int64_t> warm_until_ns{0};
    std::thread reader_thread([&] {
      while (reading) {
        kafka::MessagePtr message(rd_kafka_consumer_poll(reader.get(), 50));
        if (!message || message->err != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
        int64_t arrived_ns = now_ns();
        std::string_view key(static_cast<const char*>(message->key), message->key_len);
        if (key.substr(0, prefix.size()) != prefix) continue;
        size_t index = std::strtoull(std::string(key.substr(prefix.size())).c_str(), nullptr, 10);
        if (index >= count) continue;
        received.fetch_add(1, std::memory_order_relaxed);
        int64_t sent = sent_at[index].load(std::memory_order_relaxed);
        if (sent > 0 && sent >= warm_until_ns.load(std::memory_order_relaxed)) latencies.push_back(arrived_ns - sent);
      }
    });

    // The producer: its own client so the send time is taken right at the produce call. It
    // batches like sluice's and the bare copy's producers (linger.ms=5); with linger.ms=1 and
    // one partition per topic the p99 of bare and sluice alike was 57 ms instead of 20-24.
    kafka::HandlePtr producer = make_client(RD_KAFKA_PRODUCER, {{"bootstrap.servers", broker.bootstrap()},
                                                                {"linger.ms", "5"},
                                                                {"enable.idempotence", "true"},
                                                                {"socket.nagle.disable", "true"}});
    const double subject_cpu_start = cpu_seconds(runner.pid());
    const double broker_cpu_start = cpu_seconds(broker.pid());
    const auto start = Clock::now();
    warm_until_ns = now_ns() + std::chrono::duration_cast<std::chrono::nanoseconds>(kLatencyWarmUp).count();
    for (size_t i = 0; i < count; ++i) {
      auto due = start + std::chrono::nanoseconds(static_cast<int64_t>(static_cast<double>(i) * 1e9 / rate));
      if (Clock::now() < due) {
        rd_kafka_poll(producer.get(), 0);
        std::this_thread::sleep_until(due);
      }
      const devtools::KafkaRecord& record = corpus.mix[i].record;
      rd_kafka_headers_t* headers = rd_kafka_headers_new(record.headers.size());
      for (const auto& [name, value] : record.headers) {
        rd_kafka_header_add(headers, name.c_str(), -1, value.data(), static_cast<ssize_t>(value.size()));
      }
      const void* key = record.key->data();
      size_t key_size = record.key->size();
      void* value = record.value ? const_cast<char*>(record.value->data()) : nullptr;
      size_t value_size = record.value ? record.value->size() : 0;
      sent_at[i].store(now_ns(), std::memory_order_relaxed);
      rd_kafka_resp_err_t error = rd_kafka_producev(
          producer.get(), RD_KAFKA_V_TOPIC(record.topic.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_KEY(key, key_size), RD_KAFKA_V_VALUE(value, value_size), RD_KAFKA_V_HEADERS(headers),
          RD_KAFKA_V_END);
      if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_headers_destroy(headers);
        throw std::runtime_error(std::string("produce: ") + rd_kafka_err2str(error));
      }
      result.sent += 1;
    }
    rd_kafka_flush(producer.get(), 10'000);
    const double offered = seconds_since(start);
    test::wait_until([&] { return received.load() >= result.expected; }, 30s);
    const double subject_cpu = cpu_seconds(runner.pid()) - subject_cpu_start;
    const double broker_cpu = cpu_seconds(broker.pid()) - broker_cpu_start;
    reading = false;
    reader_thread.join();
    result.received = received.load();
    const double elapsed = seconds_since(start);
    result.subject_cpu_share = subject_cpu / elapsed;
    result.broker_cpu_share = broker_cpu / elapsed;
    if (offered > seconds * 1.05 + 1) {
      result.error = "the producer fell behind: " + std::to_string(offered) + " s to offer";
    }
    std::sort(latencies.begin(), latencies.end());
    result.measured = static_cast<int64_t>(latencies.size());
    result.p50_ms = percentile(latencies, 0.5);
    result.p99_ms = percentile(latencies, 0.99);
    result.p999_ms = percentile(latencies, 0.999);
    result.max_ms = latencies.empty() ? 0 : static_cast<double>(latencies.back()) / 1e6;
    runner.stop();
    if (result.received < result.expected) {
      result.error = std::to_string(result.expected - result.received) + " outputs missing after 30 s: " +
                     one_line(runner.log_tail());
    }
    result.ok = result.error.empty();
    std::fprintf(stderr, "   p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms (%lld measured); CPU: %.2f cores, broker %.2f\n",
                 result.p50_ms, result.p99_ms, result.p999_ms, static_cast<long long>(result.measured),
                 result.subject_cpu_share, result.broker_cpu_share);
  } catch (const std::exception& error) {
    result.ok = false;
    result.error = one_line(error.what());
    std::fprintf(stderr, "   FAILED: %s\n", error.what());
  }
  return result;
}

// --- idle memory ---------------------------------------------------------------------------

// sluice on config/sluice.yaml as shipped, but with absolute paths and a free admin port, so
// it neither depends on the working directory nor collides with anything on port 9464.
int64_t measure_idle_rss(std::string& note) {
  std::fprintf(stderr, "== idle memory on the default config\n");
  try {
    Broker broker(
        {{"inbound.email", 3}, {"inbound.whatsapp", 3}, {"clean.email", 3}, {"clean.whatsapp", 3}, {"dlq", 1}});
    test::TempDir dir;
    std::string yaml = test::read_file(SLUICE_SOURCE_DIR "/config/sluice.yaml");
    auto replace = [&](const std::string& from, const std::string& to) {
      size_t at = yaml.find(from);
      if (at == std::string::npos) throw std::runtime_error("config/sluice.yaml has no '" + from + "'");
      yaml.replace(at, from.size(), to);
    };
    replace("schemas_dir: config/schemas", "schemas_dir: " SLUICE_SOURCE_DIR "/config/schemas");
    replace("blocked_senders_file: config/blocked_senders.txt",
            "blocked_senders_file: " SLUICE_SOURCE_DIR "/config/blocked_senders.txt");
    replace("listen: 0.0.0.0:9464", "listen: 127.0.0.1:0");
    test::write_file(dir.file("sluice.yaml"), yaml);
    test::ChildProcess sluice({SLUICE_BIN, "run", "--config", dir.file("sluice.yaml")}, dir.file("log"),
                              dir.file("log"),
                              {{"KAFKA_BROKERS", broker.bootstrap()}, {"STATE_DIRECTORY", dir.path()}});
    bool joined = test::wait_until(
        [&] { return test::read_file(dir.file("log")).find("partitions assigned") != std::string::npos; }, 60s);
    if (!joined) throw std::runtime_error("no group join: " + test::read_file(dir.file("log")));
    std::this_thread::sleep_for(3s);  // let start-up allocations settle
    int64_t rss = status_bytes(sluice.pid(), "VmRSS");
    sluice.signal(SIGTERM);
    sluice.wait(30s);
    std::fprintf(stderr, "   %.1f MiB\n", static_cast<double>(rss) / (1024.0 * 1024.0));
    return rss;
  } catch (const std::exception& error) {
    note = std::string("idle memory not measured: ") + error.what();
    std::fprintf(stderr, "   FAILED: %s\n", error.what());
    return -1;
  }
}

// --- the driver ----------------------------------------------------------------------------

std::string utc_now() {
  std::time_t now = std::time(nullptr);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return buffer;
}

std::string machine() {
  std::ifstream in("/proc/cpuinfo");
  std::string line, model;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  }
  utsname name{};
  uname(&name);
  return model + ", " + std::to_string(std::thread::hardware_concurrency()) + " CPUs, Linux " + name.release;
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::stringstream stream(text);
  std::string part;
  while (std::getline(stream, part, separator)) {
    if (!part.empty()) parts.push_back(part);
  }
  return parts;
}

struct RunOptions {
  int messages = 200'000;
  // The throughput scenarios take turns this many times; each sluice run is compared with the
  // bare run of its round.
  int rounds = 3;
  double latency_rate = 10'000;
  double latency_seconds = 20;
  // The sluice scenarios of the latency runs; each round runs bare and each of them.
  std::vector<std::string> latency_dedup = {"sqlite"};
  int latency_rounds = 3;
  std::vector<std::string> scenarios = {"bare", "memory", "sqlite", "redis", "exactly-once", "http", "http-pipelined"};
  bool latency = true;
  bool idle = true;
  std::string microbench_json;
  std::string out_dir = "build/bench";
};

int usage() {
  std::cerr << "usage: sluice-bench run [--messages N] [--rounds N] [--latency-rate R] [--latency-seconds S] [--quick]\n"
               "                        [--scenarios bare,memory,sqlite,redis,exactly-once,http,http-pipelined]\n"
               "                        [--no-latency] [--no-idle]\n"
               "                        [--latency-dedup memory|sqlite|redis[,...]] [--latency-rounds N]\n"
               "                        [--microbench-json FILE] [--out DIR]\n"
               "       sluice-bench bare --bootstrap B --topics T1,T2 --to TOPIC [--fetch-wait-ms N]\n";
  return 2;
}

ScenarioSpec scenario(const std::string& name) {
  if (name == "bare") {
    return {"bare", Subject::Bare, "",
            "plain librdkafka consume→produce copy of every record into one topic, no parsing (the physical limit)"};
  }
  if (name == "memory" || name == "sqlite" || name == "redis") {
    return {"sluice " + name, Subject::SluiceTopic, name,
            "sluice, " + name + " dedup, topic routes (clean.email, clean.whatsapp) and the DLQ"};
  }
  if (name == "exactly-once") {
    ScenarioSpec spec{"sluice exactly-once", Subject::SluiceTopic, "memory",
                      "as sluice memory, with kafka.delivery: exactly_once (each round's outputs and offsets in one "
                      "transaction; the dev broker takes the calls but keeps no transactions)"};
    spec.exactly_once = true;
    return spec;
  }
  if (name == "http") {
    return {"sluice http", Subject::SluiceHttp, "memory",
            "sluice, memory dedup, both routes to a minimal keep-alive HTTP server in the bench process "
            "(ordering: partition, max_connections 16), DLQ to Kafka"};
  }
  if (name == "http-pipelined") {
    ScenarioSpec spec{"sluice http pipelined", Subject::SluiceHttp, "memory",
                      "as sluice http, with pipeline_depth 8 (HTTP/1.1 pipelining once all 16 connections are busy)"};
    spec.pipeline_depth = 8;
    return spec;
  }
  throw std::invalid_argument("unknown scenario " + name);
}

int run_all(const RunOptions& options) {
  Report report;
  report.started_at = utc_now();
  report.machine = machine();
  report.librdkafka = rd_kafka_version_str();
  report.messages = options.messages;

  Corpus corpus = make_corpus(options.messages, "id-", 1);
  report.average_bytes = static_cast<double>(corpus.bytes) / static_cast<double>(corpus.mix.size());
  std::ostringstream mix;
  mix << "the realistic mix (";
  bool first = true;
  for (const auto& [kind, count] : corpus.kinds) {
    mix << (first ? "" : ", ") << kind << " " << count;
    first = false;
  }
  mix << "); " << corpus.forwarded << " reach a route, " << corpus.dead_letters << " the DLQ";
  report.mix = mix.str();

  // Single runs of one scenario differ by more than the scenarios do (the machine's neighbours;
  // the bare copy most of all, as it has the most room to gain), so the scenarios take turns,
  // round after round, each round in a rotated order, and the report compares each sluice run
  // with the bare run of its round.
  for (int round = 1; round <= options.rounds; ++round) {
    for (size_t i = 0; i < options.scenarios.size(); ++i) {
      const std::string& name = options.scenarios[(i + static_cast<size_t>(round) - 1) % options.scenarios.size()];
      ThroughputResult result = run_throughput(scenario(name), corpus);
      result.round = round;
      report.throughput.push_back(std::move(result));
    }
  }

  if (options.latency) {
    double rate = options.latency_rate;
    std::vector<ScenarioSpec> subjects = {scenario("bare")};
    for (const std::string& dedup : options.latency_dedup) subjects.push_back(scenario(dedup));
    for (const ThroughputResult& result : report.throughput) {
      // Latency is meaningful only well below saturation.
      for (const ScenarioSpec& subject : subjects) {
        if (subject.subject == Subject::Bare || result.scenario != subject.name) continue;
        if (!result.ok || result.steady_rate >= 2 * rate) continue;
        double lowered = std::max(500.0, std::floor(result.steady_rate / 2 / 500) * 500);
        report.notes.push_back("latency rate lowered from " + std::to_string(static_cast<int>(rate)) + " to " +
                               std::to_string(static_cast<int>(lowered)) + " msgs/s: " + subject.name +
                               " sustained only " + std::to_string(static_cast<int>(result.steady_rate)) +
                               " msgs/s here");
        rate = lowered;
      }
    }
    // Single runs of the same subject can differ by more than what is measured (the machine's
    // neighbours), so the subjects take turns, round after round, each round in a rotated
    // order, and the report compares each sluice run with the bare run of its round.
    for (int round = 1; round <= options.latency_rounds; ++round) {
      for (size_t i = 0; i < subjects.size(); ++i) {
        const ScenarioSpec& subject = subjects[(i + static_cast<size_t>(round) - 1) % subjects.size()];
        LatencyResult result = run_latency(subject, rate, options.latency_seconds, 2);
        result.round = round;
        if (result.broker_cpu_share >= kSaturatedBrokerShare) {
          char cores[32];
          std::snprintf(cores, sizeof cores, "%.2f", result.broker_cpu_share);
          report.notes.push_back("latency round " + std::to_string(round) + ", " + subject.name +
                                 ": the broker used " + cores + " cores; near one, its queue is what is measured");
        }
        report.latency.push_back(std::move(result));
      }
    }
    report.notes.push_back(
        "latency runs: one partition per topic (the dev broker's work per fetch grows with the batches a partition "
        "keeps); fetch.wait.max.ms=5 for the process under test and the reading consumer; every producer with "
        "linger.ms=5 (sluice's and bare's default) and acks=all");
  }

  if (options.idle) {
    std::string note;
    report.idle_rss = measure_idle_rss(note);
    if (!note.empty()) report.notes.push_back(note);
  }

  if (!options.microbench_json.empty()) {
    try {
      report.micro = read_microbench_json(options.microbench_json);
    } catch (const std::exception& error) {
      report.notes.push_back(std::string("microbenchmarks not included: ") + error.what());
    }
  }
  report.notes.push_back("sluice runs with pipeline.max_in_flight_records: " +
                         std::to_string(kSluiceMaxInFlightRecords) +
                         " (default 20000), the bound the bare copy has in librdkafka's producer queue; both "
                         "use the " SLUICE_ALLOCATOR_NAME " allocator");
  report.notes.push_back(
      "the broker, sluice, Redis and the bench's own clients share this machine's CPUs: rates are for the whole "
      "set-up on " + std::to_string(std::thread::hardware_concurrency()) +
      " CPUs, and ratios within one run are more meaningful than absolute numbers");

  std::string markdown = to_markdown(report);
  std::filesystem::create_directories(options.out_dir);
  test::write_file(options.out_dir + "/report.md", markdown);
  test::write_file(options.out_dir + "/report.json", to_json(report));
  std::cout << markdown << std::flush;
  bool ok = true;
  for (const ThroughputResult& result : report.throughput) ok = ok && result.ok;
  for (const LatencyResult& result : report.latency) ok = ok && result.ok;
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace sluice::bench

int main(int argc, char** argv) {
  using namespace sluice::bench;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return usage();
  try {
    if (args[0] == "bare") {
      std::string bootstrap, to, topics;
      int fetch_wait_ms = 10;
      for (size_t i = 1; i + 1 < args.size(); i += 2) {
        if (args[i] == "--bootstrap") {
          bootstrap = args[i + 1];
        } else if (args[i] == "--topics") {
          topics = args[i + 1];
        } else if (args[i] == "--to") {
          to = args[i + 1];
        } else if (args[i] == "--fetch-wait-ms") {
          fetch_wait_ms = std::stoi(args[i + 1]);
        } else {
          return usage();
        }
      }
      if (bootstrap.empty() || to.empty() || topics.empty()) return usage();
      return run_bare(bootstrap, split(topics, ','), to, fetch_wait_ms);
    }
    if (args[0] != "run") return usage();
    RunOptions options;
    for (size_t i = 1; i < args.size(); ++i) {
      auto value = [&]() -> std::string {
        if (i + 1 >= args.size()) throw std::invalid_argument(args[i] + " needs a value");
        return args[++i];
      };
      if (args[i] == "--messages") {
        options.messages = std::stoi(value());
      } else if (args[i] == "--rounds") {
        options.rounds = std::stoi(value());
      } else if (args[i] == "--latency-rate") {
        options.latency_rate = std::stod(value());
      } else if (args[i] == "--latency-rounds") {
        options.latency_rounds = std::stoi(value());
      } else if (args[i] == "--latency-seconds") {
        options.latency_seconds = std::stod(value());
      } else if (args[i] == "--latency-dedup") {
        options.latency_dedup = split(value(), ',');
        if (options.latency_dedup.empty() ||
            std::any_of(options.latency_dedup.begin(), options.latency_dedup.end(), [](const std::string& dedup) {
              return dedup != "memory" && dedup != "sqlite" && dedup != "redis";
            })) {
          return usage();
        }
      } else if (args[i] == "--quick") {
        options.messages = 50'000;
        options.latency_rate = 2'000;
        options.latency_seconds = 5;
        options.latency_rounds = 1;
        options.rounds = 1;
      } else if (args[i] == "--scenarios") {
        options.scenarios = split(value(), ',');
        for (const std::string& name : options.scenarios) scenario(name);  // reject unknown names now
      } else if (args[i] == "--no-latency") {
        options.latency = false;
      } else if (args[i] == "--no-idle") {
        options.idle = false;
      } else if (args[i] == "--microbench-json") {
        options.microbench_json = value();
      } else if (args[i] == "--out") {
        options.out_dir = value();
      } else {
        return usage();
      }
    }
    if (options.messages < 100 || options.latency_rate <= 0 || options.latency_seconds <= 2 ||
        options.latency_rounds < 1 || options.rounds < 1) {
      return usage();
    }
    return run_all(options);
  } catch (const std::exception& error) {
    std::cerr << "sluice-bench: " << error.what() << "\n";
    return 1;
  }
}
