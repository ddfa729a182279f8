// sluice-bench: end-to-end measurements against dev brokers (scripts/bench runs it).
//
//   sluice-bench run [--messages N] [--rounds N] [--latency-rate R] [--latency-seconds S] [--quick]
//                    [--scenarios bare,memory,sqlite,redis,exactly-once,http,http-pipelined,http-batched,key-order,bare-*]
//                    [--no-latency] [--no-idle]
//                    [--latency-dedup memory|sqlite|redis[,...]] [--latency-rounds N]
//                    [--microbench-json FILE] [--out DIR]
//       every scenario against a fresh sluice-devbroker, the throughput scenarios taking
//       turns for --rounds rounds (default 3); writes DIR/report.md and DIR/report.json and
//       prints the Markdown
//   sluice-bench bare --bootstrap B --group G --topics T1,T2 --output-prefix P [options]
//       the limit: the strongest plain librdkafka consume→produce copy with sluice's delivery
//       guarantee (bare_copy.h); runs until SIGTERM
//
// The broker keeps about 5 MiB per partition, so every topic of a throughput scenario gets
// enough partitions that nothing is evicted, and every consumer runs with
// auto.offset.reset=error: a record evicted before it was read fails the run instead of being
// skipped quietly. Latency runs use one partition per topic instead (see latency_layout()).

#include <signal.h>
#include <sys/utsname.h>

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
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <librdkafka/rdkafka.h>

#include "bench/bare_copy.h"
#include "bench/bench_config.h"
#include "bench/bench_kafka.h"
#include "bench/bench_report.h"
#include "bench/bench_setup.h"
#include "bench/proc_stats.h"
#include "bench/throughput_run.h"
#include "devtools/message_mix.h"
#include "kafka/handles.h"
#include "support/process.h"
#include "support/redis_server.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace sluice::bench {
namespace {

using namespace std::chrono_literals;

constexpr auto kLatencyWarmUp = 2s;
// A latency run whose broker used this much of a core measured the broker's queue.
constexpr double kSaturatedBrokerShare = 0.8;

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
        spec.subject == Subject::Bare
            ? std::vector<std::string>{bare_output_topic(kBarePrefix, kInboundTopics[0]),
                                       bare_output_topic(kBarePrefix, kInboundTopics[1])}
            : kSluiceOutputs;
    result.expected = spec.subject == Subject::Bare ? static_cast<int64_t>(corpus.mix.size())
                                                    : corpus.forwarded + corpus.dead_letters;

    commit_start_offsets(broker.bootstrap(), spec.subject == Subject::Bare ? kBareGroup : kShippedGroup,
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

// sluice on config/sluice.yaml as shipped (SQLite dedup), with a free admin port.
int64_t measure_idle_rss(std::string& note) {
  std::fprintf(stderr, "== idle memory on the default config\n");
  try {
    Broker broker(
        {{"inbound.email", 3}, {"inbound.whatsapp", 3}, {"clean.email", 3}, {"clean.whatsapp", 3}, {"dlq", 1}});
    test::TempDir dir;
    const std::string yaml = shipped_config(SluiceSettings{});
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
  std::vector<std::string> scenarios = {"bare",  "memory", "sqlite",         "redis",       "exactly-once",
                                        "http",  "http-pipelined", "http-batched", "key-order"};
  bool latency = true;
  bool idle = true;
  std::string microbench_json;
  std::string out_dir = "build/bench";
};

int usage() {
  std::cerr << "usage: sluice-bench run [--messages N] [--rounds N] [--latency-rate R] [--latency-seconds S] [--quick]\n"
               "                        [--scenarios bare,memory,sqlite,redis,exactly-once,http,http-pipelined,http-batched,key-order,bare-*]\n"
               "                        [--no-latency] [--no-idle]\n"
               "                        [--latency-dedup memory|sqlite|redis[,...]] [--latency-rounds N]\n"
               "                        [--microbench-json FILE] [--out DIR]\n"
               "       sluice-bench bare --bootstrap B --group G --topics T1,T2 --output-prefix P [--consume batch|poll]\n"
               "                         [--batch-size N] [--linger-ms N] [--batch-num-messages N] [--fetch-wait-ms N]\n"
               "                         [--commit-interval-ms N]\n";
  return 2;
}

ScenarioSpec make_spec(std::string name, Subject subject, std::string dedup, std::string what) {
  ScenarioSpec spec;
  spec.name = std::move(name);
  spec.subject = subject;
  spec.dedup = std::move(dedup);
  spec.what = std::move(what);
  return spec;
}

ScenarioSpec scenario(const std::string& name) {
  if (name == "bare") {
    return make_spec("bare", Subject::Bare, "",
            "the strongest plain librdkafka copy: consume batches of 1000, wake the fetchers after draining a full "
            "queue, produce each record to the same partition of bare.<channel> (linger.ms 5), commit acknowledged "
            "offsets each second; no parsing");
  }
  // Variants of the bare copy, to show that `bare` is the fastest (--scenarios bare,bare-poll,...).
  const std::map<std::string, std::pair<std::string, std::function<void(BareOptions&)>>> variants = {
      {"bare-poll", {"as bare, one record per rd_kafka_consumer_poll (no fetcher wakes)", [](BareOptions& o) {
                       o.consume = "poll";
                       o.wake_fetchers = false;
                     }}},
      {"bare-nowake", {"as bare, without waking the fetchers after a drain", [](BareOptions& o) { o.wake_fetchers = false; }}},
      {"bare-batch100", {"as bare, consume batches of 100", [](BareOptions& o) { o.batch_size = 100; }}},
      {"bare-batch10k", {"as bare, consume batches of 10 000", [](BareOptions& o) { o.batch_size = 10'000; }}},
      {"bare-linger0", {"as bare, linger.ms 0", [](BareOptions& o) { o.linger_ms = 0; }}},
      {"bare-linger20", {"as bare, linger.ms 20", [](BareOptions& o) { o.linger_ms = 20; }}},
      {"bare-linger100", {"as bare, linger.ms 100", [](BareOptions& o) { o.linger_ms = 100; }}},
      {"bare-bnm1k", {"as bare, batch.num.messages 1000", [](BareOptions& o) { o.batch_num_messages = 1000; }}},
      {"bare-bnm100k", {"as bare, batch.num.messages 100 000", [](BareOptions& o) { o.batch_num_messages = 100'000; }}},
  };
  if (auto variant = variants.find(name); variant != variants.end()) {
    ScenarioSpec spec = make_spec(name, Subject::Bare, "", variant->second.first);
    variant->second.second(spec.bare);
    return spec;
  }
  if (name == "memory" || name == "sqlite" || name == "redis") {
    return make_spec("sluice " + name, Subject::SluiceTopic, name,
            "sluice, " + name + " dedup, topic routes (clean.email, clean.whatsapp) and the DLQ");
  }
  if (name == "exactly-once") {
    ScenarioSpec spec = make_spec("sluice exactly-once", Subject::SluiceTopic, "memory",
                      "as sluice memory, with kafka.delivery: exactly_once (each round's outputs and offsets in one "
                      "transaction; the dev broker takes the calls but keeps no transactions)");
    spec.exactly_once = true;
    return spec;
  }
  if (name == "key-order") {
    ScenarioSpec spec = make_spec("sluice key order", Subject::SluiceTopic, "memory",
                                  "as sluice memory, with retry.ordering: key (nothing fails: the cost of looking)");
    spec.key_order = true;
    return spec;
  }
  if (name == "http") {
    return make_spec("sluice http", Subject::SluiceHttp, "memory",
            "sluice, memory dedup, both routes to a minimal keep-alive HTTP server in the bench process "
            "(ordering: partition, max_connections 16), DLQ to Kafka");
  }
  if (name == "http-pipelined") {
    ScenarioSpec spec = make_spec("sluice http pipelined", Subject::SluiceHttp, "memory",
                      "as sluice http, with pipeline_depth 8 (HTTP/1.1 pipelining once all 16 connections are busy)");
    spec.pipeline_depth = 8;
    return spec;
  }
  if (name == "http-batched") {
    ScenarioSpec spec = make_spec("sluice http batched", Subject::SluiceHttp, "memory",
                                  "as sluice http, with batch {max_records: 100, linger: 5ms} (a JSON array of up to "
                                  "100 records per request)");
    spec.http_batch = "{max_records: 100, linger: 5ms}";
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
  report.notes.push_back(
      "sluice runs config/sluice.yaml as shipped; only the broker address, the dedup backend, the admin port (a free "
      "one), the paths of the schemas and blocked senders (absolute) and auto.offset.reset: error (a record evicted "
      "before it was read fails the run) differ; exactly-once and the HTTP routes are scenarios of their own. Both "
      "sluice and the bare copy use the " SLUICE_ALLOCATOR_NAME " allocator");
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
    if (args[0] == "bare") return run_bare(parse_bare_arguments({args.begin() + 1, args.end()}));
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
