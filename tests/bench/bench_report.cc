#include "bench/bench_report.h"

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

// CPU seconds per million input messages.
std::string per_million(double cpu_seconds, int64_t messages) {
  if (cpu_seconds < 0 || messages <= 0) return "-";
  return format("%.2f", cpu_seconds * 1e6 / static_cast<double>(messages));
}

const ThroughputResult* bare_of(const Report& report) {
  for (const ThroughputResult& result : report.throughput) {
    if (result.scenario == "bare" && result.ok) return &result;
  }
  return nullptr;
}

}  // namespace

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
  out << "| scenario | msgs/s | steady msgs/s | MB/s | vs bare | CPU s/M msgs (subject) | CPU s/M msgs (broker) | "
         "peak RSS MiB (subject) | peak RSS MiB (broker) |\n";
  out << "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  const ThroughputResult* bare = bare_of(report);
  for (const ThroughputResult& result : report.throughput) {
    if (!result.ok) {
      out << "| " << result.scenario << " | failed: " << result.error << " | | | | | | | |\n";
      continue;
    }
    double megabytes = static_cast<double>(result.input_bytes) / 1e6 / result.seconds;
    std::string ratio = bare != nullptr ? format("%.2f", result.rate() / bare->rate()) : "-";
    std::string subject_cpu = per_million(result.subject_cpu_seconds, result.input_messages);
    if (result.redis_cpu_seconds >= 0) {
      subject_cpu += " (+ redis " + per_million(result.redis_cpu_seconds, result.input_messages) + ")";
    }
    out << "| " << result.scenario << " | " << format("%.0f", result.rate()) << " | "
        << (result.steady_rate > 0 ? format("%.0f", result.steady_rate) : "-") << " | "
        << format("%.1f", megabytes) << " | " << ratio << " | "
        << subject_cpu << " | " << per_million(result.broker_cpu_seconds, result.input_messages) << " | "
        << mib(result.subject_peak_rss) << " | " << mib(result.broker_peak_rss) << " |\n";
  }
  out << "\n";
  for (const ThroughputResult& result : report.throughput) {
    out << "- **" << result.scenario << "**: " << result.what << "\n";
  }
  out << "\n";
  out << "Where the subject's CPU goes, µs per input message by thread (`sluice` is sluice's engine thread, "
         "`sluice-bench` the bare copy's; `rdk:*` are librdkafka's):\n\n";
  for (const ThroughputResult& result : report.throughput) {
    if (!result.ok || result.subject_thread_cpu_seconds.empty()) continue;
    out << "- " << result.scenario << ":";
    const char* separator = " ";
    for (const auto& [name, seconds] : result.subject_thread_cpu_seconds) {
      out << separator << name << " " << per_million(seconds, result.input_messages);
      separator = ", ";
    }
    out << "\n";
  }
  out << "\n";

  if (!report.latency.empty()) {
    out << "## Latency\n\n";
    out << "Constant offered rate; latency from the producer's send call to a consumer in the bench process reading "
           "the output record (forwarded and DLQ records), excluding the first 2 s.\n\n";
    out << "| scenario | rate msgs/s | seconds | outputs received/expected | p50 ms | p99 ms | p99.9 ms | max ms | "
           "subject CPU (cores) |\n";
    out << "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
    for (const LatencyResult& result : report.latency) {
      if (!result.ok && result.measured == 0) {
        out << "| " << result.scenario << " | failed: " << result.error << " | | | | | | | |\n";
        continue;
      }
      out << "| " << result.scenario << (result.ok ? "" : " (incomplete: " + result.error + ")") << " | "
          << format("%.0f", result.rate) << " | " << format("%.0f", result.seconds) << " | " << result.received << "/"
          << result.expected << " | " << format("%.2f", result.p50_ms) << " | " << format("%.2f", result.p99_ms)
          << " | " << format("%.2f", result.p999_ms) << " | " << format("%.2f", result.max_ms) << " | "
          << format("%.2f", result.subject_cpu_share) << " |\n";
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
  w.Key("latency");
  w.StartArray();
  for (const LatencyResult& r : report.latency) {
    w.StartObject();
    string("scenario", r.scenario);
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
