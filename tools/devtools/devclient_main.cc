// sluice-devclient: feeds and reads a development broker for the demo and the benchmarks.
//
//   produce-mix --bootstrap B [--count N] [--seed S] [--oversized]
//       produces the realistic mix into inbound.email / inbound.whatsapp and prints how many
//       records of each kind it sent
//   progress --bootstrap B --group G --topic T [--topic T]...
//       prints "processed/total" (committed offsets against end offsets); exit 0 when every
//       partition is fully committed, 3 otherwise
//   report --bootstrap B --topic T [--topic T]...
//       prints a table of what each topic holds, with DLQ and rejected records by reason

#include <cstdio>
#include <exception>
#include <iostream>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "devtools/kafka_tools.h"
#include "devtools/message_mix.h"

namespace {

using namespace sluice::devtools;

struct Options {
  std::string command;
  std::string bootstrap;
  std::string group;
  std::vector<std::string> topics;
  int count = 2000;
  uint64_t seed = 1;
  bool oversized = false;
};

int usage() {
  std::cerr << "usage: sluice-devclient produce-mix|progress|report --bootstrap B [--group G] [--topic T]...\n"
               "                       [--count N] [--seed S] [--oversized]\n";
  return 2;
}

const char* expected_name(Expected expected) {
  switch (expected) {
    case Expected::Forwarded: return "valid (forwarded)";
    case Expected::Duplicate: return "duplicate";
    case Expected::Filtered: return "filtered";
    case Expected::DeadLetter: return "bad data (dlq)";
  }
  return "?";
}

int produce_mix(const Options& options) {
  MixOptions mix_options;
  mix_options.count = options.count;
  mix_options.seed = options.seed;
  mix_options.include_oversized = options.oversized;
  std::vector<MixRecord> mix = make_mix(mix_options);
  RecordProducer producer(options.bootstrap);
  std::map<std::string, int> kinds;
  for (const MixRecord& entry : mix) {
    producer.produce(entry.record);
    std::string kind = expected_name(entry.expected);
    if (!entry.reason.empty()) kind += ": " + entry.reason;
    kinds[kind] += 1;
  }
  producer.flush();
  std::printf("produced %zu records\n", mix.size());
  for (const auto& [kind, count] : kinds) std::printf("  %-32s %6d\n", kind.c_str(), count);
  return 0;
}

int progress(const Options& options) {
  int64_t total = 0;
  int64_t processed = 0;
  for (const std::string& topic : options.topics) {
    int partitions = partition_count(options.bootstrap, topic);
    auto ends = end_offsets(options.bootstrap, topic, partitions);
    auto committed = committed_offsets(options.bootstrap, options.group, topic, partitions);
    for (const auto& [partition, end] : ends) {
      total += end;
      processed += committed.count(partition) != 0 ? std::min(committed[partition], end) : 0;
    }
  }
  std::printf("%lld/%lld\n", static_cast<long long>(processed), static_cast<long long>(total));
  return processed == total ? 0 : 3;
}

int report(const Options& options) {
  std::printf("%-24s %10s\n", "topic", "records");
  std::map<std::string, int> reasons;
  for (const std::string& topic : options.topics) {
    std::vector<KafkaRecord> records = read_topic(options.bootstrap, topic);
    std::printf("%-24s %10zu\n", topic.c_str(), records.size());
    for (const KafkaRecord& record : records) {
      if (auto reason = record.header("sluice-error")) reasons[topic + " / " + *reason] += 1;
      if (auto reason = record.header("sluice-filter-reason")) reasons[topic + " / " + *reason] += 1;
    }
  }
  if (!reasons.empty()) {
    std::printf("\n%-40s %10s\n", "topic / reason", "records");
    for (const auto& [reason, count] : reasons) std::printf("%-40s %10d\n", reason.c_str(), count);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.empty()) return usage();
  options.command = args[0];
  for (size_t i = 1; i < args.size(); ++i) {
    auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) throw std::invalid_argument(std::string(args[i]) + " needs a value");
      return std::string(args[++i]);
    };
    try {
      if (args[i] == "--bootstrap") {
        options.bootstrap = value();
      } else if (args[i] == "--group") {
        options.group = value();
      } else if (args[i] == "--topic") {
        options.topics.push_back(value());
      } else if (args[i] == "--count") {
        options.count = std::stoi(value());
      } else if (args[i] == "--seed") {
        options.seed = std::stoull(value());
      } else if (args[i] == "--oversized") {
        options.oversized = true;
      } else {
        return usage();
      }
    } catch (const std::exception& error) {
      std::cerr << "sluice-devclient: " << error.what() << "\n";
      return 2;
    }
  }
  if (options.bootstrap.empty()) return usage();
  try {
    if (options.command == "produce-mix") return produce_mix(options);
    if (options.command == "progress") return progress(options);
    if (options.command == "report") return report(options);
  } catch (const std::exception& error) {
    std::cerr << "sluice-devclient: " << error.what() << "\n";
    return 1;
  }
  return usage();
}
