#include "bench/bench_report.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <rapidjson/document.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include "bench/bench_summary.h"

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

std::string per_million(double cpu_seconds, int64_t messages) {
  if (cpu_seconds < 0 || messages <= 0) return "-";
  return format("%.2f", us_per_message(cpu_seconds, messages));
}

// sluice's scenarios, as opposed to bare and its variants.
bool is_sluice(const std::string& scenario) { return scenario.rfind("sluice ", 0) == 0; }

// The steps a record of the shipped config mostly waits in; the others are in the JSON.
constexpr const char* kWaitColumns[] = {"staging", "dedup", "queued", "forwarding", "dead_lettering"};

// One row of the "Where sluice waits" tables: per step "ms (records)", "-" for what was not measured.
std::string waits_cells(const PipelineWaits& waits) {
  std::string cells;
  for (const char* step : kWaitColumns) {
    auto ms = waits.step_ms.find(step);
    auto records = waits.step_records.find(step);
    // Memory dedup and an empty queue take microseconds: two decimals would say 0.00.
    const char* ms_format = ms != waits.step_ms.end() && ms->second < 1 ? "%.3f" : "%.1f";
    cells += " | " + (ms != waits.step_ms.end() ? format(ms_format, ms->second) : std::string("-")) + " (" +
             (records != waits.step_records.end() ? format("%.0f", records->second) : std::string("-")) + ")";
  }
  cells += " | " + (waits.measured ? format("%.1f %%", 100 * waits.intake_stopped_share) : std::string("-"));
  cells += " | " + (waits.peak_in_flight >= 0 ? std::to_string(waits.peak_in_flight) : std::string("-"));
  return cells + " |\n";
}

void write_waits(std::ostringstream& out, const Report& report, int rounds) {
  const std::vector<ThroughputSummary> summaries = summarize_throughput(report.throughput);
  if (std::none_of(summaries.begin(), summaries.end(), [](const auto& s) { return is_sluice(s.scenario); })) return;
  out << "## Where sluice waits\n\n";
  out << "From sluice's /metrics: the step counters scraped when the timed interval starts and when it ends, the "
         "gauges sampled every 200 ms in between. Per step: the mean time in ms a record that left the step during "
         "the interval spent in it, and in parentheses the mean number of records in it. *intake stopped* is the "
         "share of the interval in which the in-flight budget stopped intake; *peak in-flight* the highest sampled "
         "in-flight records. The gauges are snapshots sluice sets about every 100 ms, not all at the same instant, "
         "so the records by step need not add up to the in-flight records of the same sample; a run of a second "
         "has only a few samples. \"-\": not measured (a failed scrape) or no record left the step. held, "
         "waiting_on_peer, retrying and rejecting are in report.json.\n\n";
  const std::string header = std::string(" | staging ms (records) | dedup | queued | forwarding | dead_lettering | ") +
                             "intake stopped | peak in-flight |\n";
  out << (rounds > 1 ? "Medians over the rounds:\n\n" : "") << "| scenario | runs" << header
      << "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const ThroughputSummary& summary : summaries) {
    if (!is_sluice(summary.scenario)) continue;
    out << "| " << summary.scenario << " | " << summary.runs << waits_cells(summary.waits);
  }
  if (rounds > 1) {
    out << "\nEvery run:\n\n| round | scenario" << header << "|---:|---|---:|---:|---:|---:|---:|---:|---:|\n";
    for (const ThroughputResult& result : report.throughput) {
      if (!result.ok || !is_sluice(result.scenario)) continue;
      out << "| " << result.round << " | " << result.scenario << waits_cells(result.waits);
    }
  }
  out << "\n";
}

void write_targets(std::ostringstream& out, const Report& report) {
  out << "## Targets\n\n| target | value | status | how |\n|---|---:|---|---|\n";
  for (const TargetResult& target : evaluate_targets(report)) {
    out << "| " << target.target << " | " << (target.measured ? target.value_text : "-") << " | " << target.status()
        << " | " << target.how << " |\n";
  }
  out << "\n";
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
  int rounds = 0;
  for (const ThroughputResult& result : report.throughput) rounds = std::max(rounds, result.round);
  if (rounds > 1) {
    out << "Medians over " << rounds << " rounds; in each round the scenarios take turns (in a rotated order), "
           "and each run is compared with the bare run of its round, so both saw the same machine:\n\n";
    out << "| scenario | runs | msgs/s | vs bare | vs bare, lowest … highest | CPU µs/msg (subject) | "
           "CPU µs/msg, lowest … highest | CPU vs bare | CPU vs bare, lowest … highest | peak RSS MiB (highest) |\n";
    out << "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
    for (const ThroughputSummary& summary : summarize_throughput(report.throughput)) {
      if (summary.runs == 0) {
        out << "| " << summary.scenario << " | 0 | failed | | | | | | | |\n";
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
          << format("%.2f", summary.subject_us_max) << " | "
          << (compared ? format("%.2f", summary.cpu_vs_bare) : "-") << " | "
          << (compared ? format("%.2f", summary.cpu_vs_bare_min) + " … " + format("%.2f", summary.cpu_vs_bare_max)
                       : "-")
          << " | " << mib(summary.subject_peak_rss) << " |\n";
    }
    out << "\nEvery run:\n\n";
  }
  out << "| round | scenario | msgs/s | steady msgs/s | MB/s | vs bare | CPU s/M msgs (subject) | CPU vs bare | "
         "CPU s/M msgs (broker) | peak RSS MiB (subject) | peak RSS MiB (broker) |\n";
  out << "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const ThroughputResult& result : report.throughput) {
    if (!result.ok) {
      out << "| " << result.round << " | " << result.scenario << " | failed: " << result.error
          << " | | | | | | | | |\n";
      continue;
    }
    const ThroughputResult* bare = bare_in_round(report.throughput, result.round);
    double megabytes = static_cast<double>(result.input_bytes) / 1e6 / result.seconds;
    std::string ratio = bare != nullptr ? format("%.2f", result.rate() / bare->rate()) : "-";
    std::string cpu_ratio = bare != nullptr && bare->subject_cpu_seconds > 0
                                ? format("%.2f", us_per_message(result.subject_cpu_seconds, result.input_messages) /
                                                     us_per_message(bare->subject_cpu_seconds, bare->input_messages))
                                : "-";
    std::string subject_cpu = per_million(result.subject_cpu_seconds, result.input_messages);
    if (result.redis_cpu_seconds >= 0) {
      subject_cpu += " (+ redis " + per_million(result.redis_cpu_seconds, result.input_messages) + ")";
    }
    out << "| " << result.round << " | " << result.scenario << " | " << format("%.0f", result.rate()) << " | "
        << (result.steady_rate > 0 ? format("%.0f", result.steady_rate) : "-") << " | "
        << format("%.1f", megabytes) << " | " << ratio << " | "
        << subject_cpu << " | " << cpu_ratio << " | " << per_million(result.broker_cpu_seconds, result.input_messages) << " | "
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

  write_waits(out, report, rounds);
  write_targets(out, report);

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
  // `counted`: what PipelineWaits::samples counts here (gauge samples of a run, or the runs
  // of a summary that were measured at both ends).
  auto waits = [&](const PipelineWaits& waits, const char* counted) {
    w.Key("pipeline_waits");
    w.StartObject();
    w.Key("measured");
    w.Bool(waits.measured);
    integer(counted, waits.samples);
    if (waits.measured) number("intake_stopped_share", waits.intake_stopped_share);
    if (waits.peak_in_flight >= 0) integer("peak_in_flight_records", waits.peak_in_flight);
    w.Key("mean_ms_in_step");
    w.StartObject();
    for (const auto& [step, ms] : waits.step_ms) number(step.c_str(), ms);
    w.EndObject();
    w.Key("mean_records_in_step");
    w.StartObject();
    for (const auto& [step, records] : waits.step_records) number(step.c_str(), records);
    w.EndObject();
    w.EndObject();
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
    if (is_sluice(r.scenario)) waits(r.waits, "gauge_samples");
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
      number("median_cpu_ratio_to_bare", s.cpu_vs_bare);
      number("lowest_cpu_ratio_to_bare", s.cpu_vs_bare_min);
      number("highest_cpu_ratio_to_bare", s.cpu_vs_bare_max);
    }
    integer("highest_subject_peak_rss_bytes", s.subject_peak_rss);
    if (is_sluice(s.scenario)) waits(s.waits, "runs_measured");  // medians over the runs
    w.EndObject();
  }
  w.EndArray();
  w.Key("targets");
  w.StartArray();
  for (const TargetResult& target : evaluate_targets(report)) {
    w.StartObject();
    string("name", target.name);
    string("target", target.target);
    number("threshold", target.threshold);
    string("comparison", target.at_most ? "at most" : "at least");
    string("how", target.how);
    string("status", target.measured ? (target.reached ? "reached" : "not reached") : "not measured");
    if (target.measured) {
      number("value", target.value);
    } else {
      string("why_not_measured", target.why);
    }
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
