#include "bench/bench_report.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <rapidjson/document.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

namespace sluice::bench {
namespace {

std::string format(const char* pattern, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, pattern, value);
  return buffer;
}

std::string mib(int64_t bytes) {
  return bytes > 0 ? format("%.1f", static_cast<double>(bytes) / (1024.0 * 1024.0)) : "-";
}

// CPU seconds per million input messages, which is CPU µs per message.
double us_per_message(double cpu_seconds, int64_t messages) {
  return messages > 0 ? cpu_seconds * 1e6 / static_cast<double>(messages) : 0;
}

std::string per_million(double cpu_seconds, int64_t messages) {
  if (cpu_seconds < 0 || messages <= 0) return "-";
  return format("%.2f", us_per_message(cpu_seconds, messages));
}

// The bare run of `round`, if it completed.
template <typename Result>
const Result* bare_in_round(const std::vector<Result>& results, int round) {
  for (const Result& result : results) {
    if (result.scenario == "bare" && result.round == round && result.ok) return &result;
  }
  return nullptr;
}

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t middle = values.size() / 2;
  return values.size() % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
}

// The scenarios in the order they first appear.
template <typename Result>
std::vector<std::string> scenario_order(const std::vector<Result>& results) {
  std::vector<std::string> order;
  for (const Result& result : results) {
    if (std::find(order.begin(), order.end(), result.scenario) == order.end()) order.push_back(result.scenario);
  }
  return order;
}

}  // namespace

std::vector<ThroughputSummary> summarize_throughput(const std::vector<ThroughputResult>& results) {
  std::vector<ThroughputSummary> summaries;
  for (const std::string& scenario : scenario_order(results)) {
    ThroughputSummary summary;
    summary.scenario = scenario;
    std::vector<double> rates, subject_us, redis_us, ratios;
    for (const ThroughputResult& result : results) {
      if (result.scenario != scenario || !result.ok) continue;
      rates.push_back(result.rate());
      subject_us.push_back(us_per_message(result.subject_cpu_seconds, result.input_messages));
      if (result.redis_cpu_seconds >= 0) {
        redis_us.push_back(us_per_message(result.redis_cpu_seconds, result.input_messages));
      }
      summary.subject_peak_rss = std::max(summary.subject_peak_rss, result.subject_peak_rss);
      const ThroughputResult* bare = bare_in_round(results, result.round);
      if (bare != nullptr && bare->rate() > 0) ratios.push_back(result.rate() / bare->rate());
    }
    summary.runs = static_cast<int>(rates.size());
    summary.rate = median(rates);
    summary.subject_us_per_message = median(subject_us);
    if (!subject_us.empty()) {
      summary.subject_us_min = *std::min_element(subject_us.begin(), subject_us.end());
      summary.subject_us_max = *std::max_element(subject_us.begin(), subject_us.end());
    }
    if (!redis_us.empty()) summary.redis_us_per_message = median(redis_us);
    summary.compared = static_cast<int>(ratios.size());
    if (!ratios.empty()) {
      summary.vs_bare = median(ratios);
      summary.vs_bare_min = *std::min_element(ratios.begin(), ratios.end());
      summary.vs_bare_max = *std::max_element(ratios.begin(), ratios.end());
    }
    summaries.push_back(summary);
  }
  return summaries;
}

std::vector<LatencySummary> summarize_latency(const std::vector<LatencyResult>& results) {
  std::vector<LatencySummary> summaries;
  for (const std::string& scenario : scenario_order(results)) {
    LatencySummary summary;
    summary.scenario = scenario;
    std::vector<double> p50, p99, p999, p50_delta, p99_delta;
    for (const LatencyResult& result : results) {
      if (result.scenario != scenario || !result.ok) continue;
      p50.push_back(result.p50_ms);
      p99.push_back(result.p99_ms);
      p999.push_back(result.p999_ms);
      const LatencyResult* bare = scenario == "bare" ? nullptr : bare_in_round(results, result.round);
      if (bare == nullptr) continue;
      p50_delta.push_back(result.p50_ms - bare->p50_ms);
      p99_delta.push_back(result.p99_ms - bare->p99_ms);
    }
    summary.runs = static_cast<int>(p50.size());
    summary.p50_ms = median(p50);
    summary.p99_ms = median(p99);
    summary.p999_ms = median(p999);
    summary.compared = static_cast<int>(p99_delta.size());
    if (!p99_delta.empty()) {
      summary.p50_minus_bare_ms = median(p50_delta);
      summary.p99_minus_bare_ms = median(p99_delta);
      summary.p99_minus_bare_min_ms = *std::min_element(p99_delta.begin(), p99_delta.end());
      summary.p99_minus_bare_max_ms = *std::max_element(p99_delta.begin(), p99_delta.end());
    }
    summaries.push_back(summary);
  }
  return summaries;
}

std::string to_markdown(const Report& report) {
  std::ostringstream out;
  out << "# sluice benchmark\n\n";
  out << "- started: " << report.started_at << "\n";
  out << "- machine: " << report.machine << "\n";
  out << "- librdkafka: " << report.librdkafka
      << "; broker: sluice-devbroker (librdkafka's mock cluster, one process)\n";
  out << "- input: " << report.messages << " records per throughput scenario, " << format("%.0f", report.average_bytes)
      << " bytes on average; " << report.mix << "\n\n";

  out << "## Throughput\n\n";
  out << "Each scenario: a fresh broker preloaded with the corpus, then the process under test starts; timed from "
         "its group join until everything it must produce has arrived downstream. Rates count input records "
         "(forwarded, filtered, duplicate and dead-lettered alike). *steady* is the rate between 10% and 90% of the "
         "outputs (\"-\" when that took under a second). CPU is utime+stime over the timed interval, per "
         "million input records.\n\n";
  int rounds = 0;
  for (const ThroughputResult& result : report.throughput) rounds = std::max(rounds, result.round);
  if (rounds > 1) {
    out << "Medians over " << rounds << " rounds; in each round the scenarios take turns (in a rotated order), "
           "and each run is compared with the bare run of its round, so both saw the same machine:\n\n";
    out << "| scenario | runs | msgs/s | vs bare | vs bare, lowest … highest | CPU µs/msg (subject) | "
           "CPU µs/msg, lowest … highest | peak RSS MiB (highest) |\n";
    out << "|---|---:|---:|---:|---:|---:|---:|---:|\n";
    for (const ThroughputSummary& summary : summarize_throughput(report.throughput)) {
      if (summary.runs == 0) {
        out << "| " << summary.scenario << " | 0 | failed | | | | | |\n";
        continue;
      }
      const bool compared = summary.compared > 0;
      std::string subject_cpu = format("%.2f", summary.subject_us_per_message);
      if (summary.redis_us_per_message >= 0) {
        subject_cpu += " (+ redis " + format("%.2f", summary.redis_us_per_message) + ")";
      }
      out << "| " << summary.scenario << " | " << summary.runs << " | " << format("%.0f", summary.rate) << " | "
          << (compared ? format("%.2f", summary.vs_bare) : "-") << " | "
          << (compared ? format("%.2f", summary.vs_bare_min) + " … " + format("%.2f", summary.vs_bare_max) : "-")
          << " | " << subject_cpu << " | " << format("%.2f", summary.subject_us_min) << " … "
          << format("%.2f", summary.subject_us_max) << " | " << mib(summary.subject_peak_rss) << " |\n";
    }
    out << "\nEvery run:\n\n";
  }
  out << "| round | scenario | msgs/s | steady msgs/s | MB/s | vs bare | CPU s/M msgs (subject) | "
         "CPU s/M msgs (broker) | peak RSS MiB (subject) | peak RSS MiB (broker) |\n";
  out << "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const ThroughputResult& result : report.throughput) {
    if (!result.ok) {
      out << "| " << result.round << " | " << result.scenario << " | failed: " << result.error
          << " | | | | | | | |\n";
      continue;
    }
    const ThroughputResult* bare = bare_in_round(report.throughput, result.round);
    double megabytes = static_cast<double>(result.input_bytes) / 1e6 / result.seconds;
    std::string ratio = bare != nullptr ? format("%.2f", result.rate() / bare->rate()) : "-";
    std::string subject_cpu = per_million(result.subject_cpu_seconds, result.input_messages);
    if (result.redis_cpu_seconds >= 0) {
      subject_cpu += " (+ redis " + per_million(result.redis_cpu_seconds, result.input_messages) + ")";
    }
    out << "| " << result.round << " | " << result.scenario << " | " << format("%.0f", result.rate()) << " | "
        << (result.steady_rate > 0 ? format("%.0f", result.steady_rate) : "-") << " | "
        << format("%.1f", megabytes) << " | " << ratio << " | "
        << subject_cpu << " | " << per_million(result.broker_cpu_seconds, result.input_messages) << " | "
        << mib(result.subject_peak_rss) << " | " << mib(result.broker_peak_rss) << " |\n";
  }
  out << "\n";
  for (const std::string& scenario : scenario_order(report.throughput)) {
    for (const ThroughputResult& result : report.throughput) {
      if (result.scenario != scenario) continue;
      out << "- **" << result.scenario << "**: " << result.what << "\n";
      break;
    }
  }
  out << "\n";
  out << "Where the subject's CPU goes, µs per input message by thread (`sluice` is sluice's engine thread, "
         "`sluice-bench` the bare copy's; `rdk:*` are librdkafka's):\n\n";
  for (const std::string& scenario : scenario_order(report.throughput)) {
    for (const ThroughputResult& result : report.throughput) {
      if (result.scenario != scenario || !result.ok || result.subject_thread_cpu_seconds.empty()) continue;
      out << "- " << result.scenario << (rounds > 1 ? " (round " + std::to_string(result.round) + ")" : std::string())
          << ":";
      const char* separator = " ";
      for (const auto& [name, seconds] : result.subject_thread_cpu_seconds) {
        out << separator << name << " " << per_million(seconds, result.input_messages);
        separator = ", ";
      }
      out << "\n";
    }
  }
  out << "\n";

  if (!report.latency.empty()) {
    out << "## Latency\n\n";
    out << "Constant offered rate; latency from the producer's send call to a consumer in the bench process reading "
           "the output record (forwarded and DLQ records), excluding the first 2 s.\n\n";
    const std::vector<LatencySummary> summaries = summarize_latency(report.latency);
    out << "Medians over the rounds; a sluice run is compared with the bare run of the same round (the subjects "
           "take turns, so both saw the same machine):\n\n";
    out << "| scenario | runs | p50 ms | p99 ms | p99.9 ms | p50 − bare ms | p99 − bare ms | p99 − bare, "
           "lowest … highest |\n";
    out << "|---|---:|---:|---:|---:|---:|---:|---:|\n";
    for (const LatencySummary& summary : summaries) {
      const bool compared = summary.compared > 0;
      out << "| " << summary.scenario << " | " << summary.runs << " | " << format("%.2f", summary.p50_ms) << " | "
          << format("%.2f", summary.p99_ms) << " | " << format("%.2f", summary.p999_ms) << " | "
          << (compared ? format("%+.2f", summary.p50_minus_bare_ms) : "-") << " | "
          << (compared ? format("%+.2f", summary.p99_minus_bare_ms) : "-") << " | "
          << (compared ? format("%+.1f", summary.p99_minus_bare_min_ms) + " … " +
                             format("%+.1f", summary.p99_minus_bare_max_ms)
                       : "-")
          << " |\n";
    }
    out << "\nEvery run:\n\n";
    out << "| round | scenario | rate msgs/s | seconds | outputs received/expected | p50 ms | p99 ms | p99.9 ms | "
           "max ms | subject CPU (cores) | broker CPU (cores) |\n";
    out << "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
    for (const LatencyResult& result : report.latency) {
      if (!result.ok && result.measured == 0) {
        out << "| " << result.round << " | " << result.scenario << " | failed: " << result.error
            << " | | | | | | | | |\n";
        continue;
      }
      out << "| " << result.round << " | " << result.scenario
          << (result.ok ? "" : " (incomplete: " + result.error + ")") << " | " << format("%.0f", result.rate) << " | " << format("%.0f", result.seconds) << " | " << result.received << "/"
          << result.expected << " | " << format("%.2f", result.p50_ms) << " | " << format("%.2f", result.p99_ms)
          << " | " << format("%.2f", result.p999_ms) << " | " << format("%.2f", result.max_ms) << " | "
          << format("%.2f", result.subject_cpu_share) << " | " << format("%.2f", result.broker_cpu_share) << " |\n";
    }
    out << "\n";
  }

  out << "## Memory at idle\n\n";
  out << "sluice on the default configuration (config/sluice.yaml; admin on a free port), joined to its group "
         "with nothing to do: VmRSS "
      << (report.idle_rss > 0 ? mib(report.idle_rss) + " MiB" : std::string("not measured")) << ".\n\n";

  if (!report.micro.empty()) {
    out << "## Microbenchmarks (one core)\n\n";
    out << "Stages: CPU time per message over the realistic mix (each stage over the records that reach it). "
           "Dedup: wall-clock time per message of reserve + confirm in batches of /N, a flush every 10,000, "
           "100,000 new fingerprints from an empty store.\n\n";
    out << "| benchmark | ns/msg | msgs/s |\n|---|---:|---:|\n";
    for (const MicroResult& result : report.micro) {
      if (!result.error.empty()) {
        out << "| " << result.name << " | " << result.error << " | |\n";
        continue;
      }
      out << "| " << result.name << " | " << format("%.0f", result.ns_per_item) << " | "
          << format("%.0f", result.items_per_second) << " |\n";
    }
    out << "\n";
  }

  if (!report.notes.empty()) {
    out << "## Notes\n\n";
    for (const std::string& note : report.notes) out << "- " << note << "\n";
  }
  return out.str();
}

std::string to_json(const Report& report) {
  rapidjson::StringBuffer buffer;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buffer);
  auto string = [&](const char* key, const std::string& value) {
    w.Key(key);
    w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
  };
  auto number = [&](const char* key, double value) {
    w.Key(key);
    w.Double(value);
  };
  auto integer = [&](const char* key, int64_t value) {
    w.Key(key);
    w.Int64(value);
  };
  w.StartObject();
  string("started_at", report.started_at);
  string("machine", report.machine);
  string("librdkafka", report.librdkafka);
  integer("messages", report.messages);
  number("average_bytes", report.average_bytes);
  string("mix", report.mix);
  w.Key("throughput");
  w.StartArray();
  for (const ThroughputResult& r : report.throughput) {
    w.StartObject();
    string("scenario", r.scenario);
    integer("round", r.round);
    string("what", r.what);
    w.Key("ok");
    w.Bool(r.ok);
    if (!r.ok) string("error", r.error);
    integer("input_messages", r.input_messages);
    integer("input_bytes", r.input_bytes);
    integer("outputs", r.outputs);
    number("seconds", r.seconds);
    number("messages_per_second", r.rate());
    number("steady_messages_per_second", r.steady_rate);
    number("subject_cpu_seconds", r.subject_cpu_seconds);
    number("broker_cpu_seconds", r.broker_cpu_seconds);
    if (r.redis_cpu_seconds >= 0) number("redis_cpu_seconds", r.redis_cpu_seconds);
    integer("subject_peak_rss_bytes", r.subject_peak_rss);
    integer("broker_peak_rss_bytes", r.broker_peak_rss);
    w.Key("subject_thread_cpu_seconds");
    w.StartObject();
    for (const auto& [name, seconds] : r.subject_thread_cpu_seconds) number(name.c_str(), seconds);
    w.EndObject();
    w.EndObject();
  }
  w.EndArray();
  w.Key("throughput_summary");
  w.StartArray();
  for (const ThroughputSummary& s : summarize_throughput(report.throughput)) {
    w.StartObject();
    string("scenario", s.scenario);
    integer("runs", s.runs);
    number("median_messages_per_second", s.rate);
    number("median_subject_cpu_us_per_message", s.subject_us_per_message);
    number("lowest_subject_cpu_us_per_message", s.subject_us_min);
    number("highest_subject_cpu_us_per_message", s.subject_us_max);
    if (s.redis_us_per_message >= 0) number("median_redis_cpu_us_per_message", s.redis_us_per_message);
    integer("rounds_compared_with_bare", s.compared);
    if (s.compared > 0) {
      number("median_ratio_to_bare", s.vs_bare);
      number("lowest_ratio_to_bare", s.vs_bare_min);
      number("highest_ratio_to_bare", s.vs_bare_max);
    }
    integer("highest_subject_peak_rss_bytes", s.subject_peak_rss);
    w.EndObject();
  }
  w.EndArray();
  w.Key("latency");
  w.StartArray();
  for (const LatencyResult& r : report.latency) {
    w.StartObject();
    string("scenario", r.scenario);
    integer("round", r.round);
    w.Key("ok");
    w.Bool(r.ok);
    if (!r.ok) string("error", r.error);
    number("rate", r.rate);
    number("seconds", r.seconds);
    integer("sent", r.sent);
    integer("expected", r.expected);
    integer("received", r.received);
    integer("measured", r.measured);
    number("p50_ms", r.p50_ms);
    number("p99_ms", r.p99_ms);
    number("p999_ms", r.p999_ms);
    number("max_ms", r.max_ms);
    number("subject_cpu_share", r.subject_cpu_share);
    number("broker_cpu_share", r.broker_cpu_share);
    w.EndObject();
  }
  w.EndArray();
  w.Key("latency_summary");
  w.StartArray();
  for (const LatencySummary& s : summarize_latency(report.latency)) {
    w.StartObject();
    string("scenario", s.scenario);
    integer("runs", s.runs);
    number("median_p50_ms", s.p50_ms);
    number("median_p99_ms", s.p99_ms);
    number("median_p999_ms", s.p999_ms);
    integer("rounds_compared_with_bare", s.compared);
    if (s.compared > 0) {
      number("median_p50_minus_bare_ms", s.p50_minus_bare_ms);
      number("median_p99_minus_bare_ms", s.p99_minus_bare_ms);
      number("lowest_p99_minus_bare_ms", s.p99_minus_bare_min_ms);
      number("highest_p99_minus_bare_ms", s.p99_minus_bare_max_ms);
    }
    w.EndObject();
  }
  w.EndArray();
  integer("idle_rss_bytes", report.idle_rss);
  w.Key("micro");
  w.StartArray();
  for (const MicroResult& r : report.micro) {
    w.StartObject();
    string("name", r.name);
    if (!r.error.empty()) string("error", r.error);
    number("ns_per_message", r.ns_per_item);
    number("messages_per_second", r.items_per_second);
    w.EndObject();
  }
  w.EndArray();
  w.Key("notes");
  w.StartArray();
  for (const std::string& note : report.notes) w.String(note.c_str(), static_cast<rapidjson::SizeType>(note.size()));
  w.EndArray();
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize()) + "\n";
}

std::vector<MicroResult> read_microbench_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  rapidjson::Document document;
  document.Parse(text.str().c_str());
  if (document.HasParseError() || !document.IsObject() || !document.HasMember("benchmarks")) {
    throw std::runtime_error(path + ": not Google Benchmark JSON");
  }
  std::vector<MicroResult> results;
  for (const auto& entry : document["benchmarks"].GetArray()) {
    MicroResult result;
    result.name = entry["name"].GetString();
    if (entry.HasMember("error_occurred") && entry["error_occurred"].GetBool()) {
      result.error = entry.HasMember("error_message") ? entry["error_message"].GetString() : "error";
    } else if (entry.HasMember("items_per_second")) {
      result.items_per_second = entry["items_per_second"].GetDouble();
      result.ns_per_item = result.items_per_second > 0 ? 1e9 / result.items_per_second : 0;
    }
    results.push_back(std::move(result));
  }
  return results;
}

}  // namespace sluice::bench
