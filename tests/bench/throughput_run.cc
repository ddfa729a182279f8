#include "bench/throughput_run.h"

#include <cstdio>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <thread>

#include "bench/bench_config.h"
#include "bench/bench_http_sink.h"
#include "bench/bench_kafka.h"
#include "bench/pipeline_metrics.h"
#include "bench/proc_stats.h"
#include "devtools/kafka_tools.h"
#include "support/redis_server.h"

namespace sluice::bench {
namespace {

using namespace std::chrono_literals;

// How often the run looks at the outputs' end offsets.
constexpr auto kSamplePeriod = 50ms;

}  // namespace

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
      for (const std::string& topic : kInboundTopics) {
        const std::string output = bare_output_topic(kBarePrefix, topic);
        outputs[output] = layout.at(output);
      }
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
      return total + (http ? http->records() : 0);
    };

    commit_start_offsets(broker.bootstrap(), spec.subject == Subject::Bare ? kBareGroup : kShippedGroup,
                         inbound_of(layout));
    Runner runner(spec, broker.bootstrap(), -1, redis ? redis->url() : "", http ? http->url() : "");
    if (!runner.wait_joined(60s)) throw std::runtime_error("no group join within 60 s: " + runner.log_tail());
    const auto start = Clock::now();
    const double subject_cpu_start = cpu_seconds(runner.pid());
    const std::map<std::string, double> subject_threads_start = thread_cpu_seconds(runner.pid());
    const double broker_cpu_start = cpu_seconds(broker.pid());
    const double redis_cpu_start = redis_pid > 0 ? cpu_seconds(redis_pid) : 0;
    // Where sluice's records wait; a run without it is still a run (the report says "-").
    std::unique_ptr<PipelineSampler> sampler;
    if (spec.subject != Subject::Bare) {
      if (std::optional<uint16_t> port = runner.admin_port()) sampler = std::make_unique<PipelineSampler>(*port);
    }

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
    if (sampler) result.waits = sampler->finish();
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
    // Both commit only what was acknowledged. With exactly-once the offsets go with the
    // transactions, which the dev broker takes but keeps nothing of: there is no committed
    // offset to look at.
    if (!spec.exactly_once &&
        !devtools::group_caught_up(broker.bootstrap(), spec.subject == Subject::Bare ? kBareGroup : kShippedGroup,
                                   kInboundTopics)) {
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

}  // namespace sluice::bench
