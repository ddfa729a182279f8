#include "chaos/order_check.h"

#include <algorithm>
#include <optional>
#include <set>
#include <tuple>
#include <unordered_map>

namespace sluice::chaos {
namespace {

using devtools::KafkaRecord;
using devtools::MixRecord;

constexpr size_t kExamples = 10;

std::string identity(const KafkaRecord& record) { return record.header("test-id").value_or(record.key.value_or("")); }

// Where an input record was read from.
struct InputPosition {
  std::string topic;
  int32_t partition = -1;
  int64_t offset = -1;
};

// One arrival at a sink: the input record (index into the mix) and whether it came before
// each kill mark.
struct Arrival {
  size_t index = 0;
  std::string source;  // the sluice-source / X-Sluice-Source it was sent with
  std::vector<bool> before_kill;
  std::optional<std::chrono::system_clock::time_point> at;  // when it arrived
};

// Whether an HTTP copy answered just before a stop of the sink has a later copy after it.
bool across_sink_stop(const std::vector<const Arrival*>& copies,
                      const std::vector<std::chrono::system_clock::time_point>& stops) {
  for (const auto& stop : stops) {
    bool before = false;
    bool after = false;
    for (const Arrival* copy : copies) {
      if (!copy->at) continue;
      before = before || (*copy->at <= stop && *copy->at >= stop - kSinkStopWindow);
      after = after || *copy->at > stop;
    }
    if (before && after) return true;
  }
  return false;
}

void add_example(std::vector<std::string>& examples, const std::string& text) {
  if (examples.size() < kExamples) examples.push_back(text);
}

// Whether a copy after the first was read from a retry tier: sluice saw an earlier attempt fail.
bool resent_from_tier(const std::vector<const Arrival*>& copies) {
  return std::any_of(copies.begin() + 1, copies.end(),
                     [](const Arrival* copy) { return copy->source.rfind("retry.", 0) == 0; });
}

// What check_sink needs besides the arrivals.
struct Context {
  const std::vector<MixRecord>& mix;
  const std::vector<InputPosition>& positions;
  size_t kill_count;
  const std::vector<RunEvent>& events;
  std::unordered_map<std::string, int> group_size;  // records per content group
};

// Whether an event of `kind` happened within `window` before `at`.
bool shortly_after(const Context& context, RunEvent::Kind kind, std::chrono::system_clock::time_point at,
                   std::chrono::seconds window) {
  return std::any_of(context.events.begin(), context.events.end(), [&](const RunEvent& event) {
    return event.kind == kind && event.at <= at && event.at >= at - window;
  });
}

std::string violation_cause(const Context& context, const Arrival& arrival) {
  using namespace std::chrono_literals;
  if (arrival.source.rfind("retry.", 0) == 0) return "through a retry tier";
  if (context.group_size.at(context.mix[arrival.index].content_group) > 1) return "content shared (dedup may wait)";
  if (arrival.at && shortly_after(context, RunEvent::Kind::ProduceError, *arrival.at, 5s)) {
    return "within 5 s of a sink produce error";
  }
  if (arrival.at && shortly_after(context, RunEvent::Kind::Membership, *arrival.at, 15s)) {
    return "within 15 s of a restart or kill";
  }
  return "other";
}

void check_order_of(const Context& context, const std::vector<Arrival>& arrivals, SinkOrder& sink) {
  // (input topic, partition, key) → the highest input offset delivered so far, and its id.
  std::map<std::tuple<std::string, int32_t, std::string>, std::pair<int64_t, std::string>> last;
  std::set<size_t> delivered;
  for (const Arrival& arrival : arrivals) {
    if (!delivered.insert(arrival.index).second) continue;
    const MixRecord& entry = context.mix[arrival.index];
    const InputPosition& position = context.positions[arrival.index];
    const std::string id = entry.record.header("test-id").value_or("?");
    auto [seen, fresh] = last.try_emplace({position.topic, position.partition, *entry.record.key}, position.offset, id);
    if (fresh) continue;
    if (position.offset >= seen->second.first) {
      seen->second = {position.offset, id};
      continue;
    }
    sink.violations += 1;
    const std::string cause = violation_cause(context, arrival);
    sink.violation_causes[cause] += 1;
    add_example(sink.order_examples, "order: " + *entry.record.key + " of " + position.topic + "/" +
                                         std::to_string(position.partition) + ": " + id + " (offset " +
                                         std::to_string(position.offset) + ") arrived after " + seen->second.second +
                                         " (offset " + std::to_string(seen->second.first) + "), sent from " +
                                         arrival.source + " (" + cause + ")");
  }
  sink.keys = last.size();
  sink.first_arrivals = delivered.size();
}

// `sink_stops`: when the HTTP sink stopped (none for the topic).
void check_duplicates_of(const Context& context, const std::vector<Arrival>& arrivals,
                         const std::vector<std::chrono::system_clock::time_point>& sink_stops, SinkOrder& sink) {
  std::unordered_map<std::string, std::vector<const Arrival*>> by_group;
  for (const Arrival& arrival : arrivals) by_group[context.mix[arrival.index].content_group].push_back(&arrival);
  for (const auto& [group, copies] : by_group) {
    if (copies.size() < 2) continue;
    size_t surplus = copies.size() - 1;
    sink.duplicates += surplus;
    bool explained = false;
    for (size_t k = 0; k < context.kill_count && !explained; ++k) {
      bool before = false;
      bool after = false;
      for (const Arrival* copy : copies) (copy->before_kill[k] ? before : after) = true;
      explained = before && after;
    }
    if (explained) {
      sink.duplicates_kill += surplus;
      continue;
    }
    if (resent_from_tier(copies) || across_sink_stop(copies, sink_stops)) {
      sink.duplicates_resent += surplus;
      continue;
    }
    sink.unexplained_duplicates += surplus;
    std::string text = "duplicate not across a kill -9: " +
                       context.mix[copies.front()->index].record.header("test-id").value_or("?") + " arrived " +
                       std::to_string(copies.size()) + " times";
    if (copies.front()->at && copies.back()->at) {
      auto apart = std::chrono::duration_cast<std::chrono::milliseconds>(*copies.back()->at - *copies.front()->at);
      text += ", " + std::to_string(apart.count()) + " ms apart";
    }
    for (const Arrival* copy : copies) text += " [" + copy->source + "]";
    add_example(sink.duplicate_examples, text);
  }
}

}  // namespace

OrderReport check_order(const std::vector<MixRecord>& mix, const std::vector<KafkaRecord>& inbound,
                        const RunOutputs& outputs, const std::vector<KillMark>& kills,
                        const std::vector<std::chrono::system_clock::time_point>& sink_stops,
                        const std::vector<RunEvent>& events) {
  std::unordered_map<std::string, size_t> by_id;
  std::unordered_map<std::string, size_t> by_http_body;
  for (size_t i = 0; i < mix.size(); ++i) {
    by_id.emplace(identity(mix[i].record), i);
    bool valid = mix[i].expected == devtools::Expected::Forwarded || mix[i].expected == devtools::Expected::Duplicate;
    if (valid && mix[i].downstream_topic != outputs.downstream_topic && mix[i].record.value) {
      by_http_body.emplace(*mix[i].record.value, i);
    }
  }
  std::vector<InputPosition> positions(mix.size());
  for (const KafkaRecord& record : inbound) {
    auto found = by_id.find(identity(record));
    if (found != by_id.end()) positions[found->second] = {record.topic, record.partition, record.offset};
  }

  OrderReport report;
  // Records the accounting does not know are its failures, not order's: skipped here.
  std::vector<Arrival> topic_arrivals;
  std::map<std::string, std::set<int32_t>> partitions_of_key;
  for (const KafkaRecord& record : outputs.downstream) {
    auto found = by_id.find(identity(record));
    if (found == by_id.end()) continue;
    // The record's timestamp is its produce time: sluice sets none of its own.
    Arrival arrival{found->second, record.header("sluice-source").value_or(""), {},
                    std::chrono::system_clock::time_point(std::chrono::milliseconds(record.timestamp_ms))};
    for (const KillMark& kill : kills) {
      auto end = kill.downstream_ends.find(record.partition);
      arrival.before_kill.push_back(end != kill.downstream_ends.end() && record.offset < end->second);
    }
    topic_arrivals.push_back(std::move(arrival));
    partitions_of_key[positions[found->second].topic + " " + record.key.value_or("")].insert(record.partition);
  }
  for (const auto& [key, partitions] : partitions_of_key) {
    if (partitions.size() < 2) continue;
    if (report.split_keys++ == 0) report.split_example = key + " in " + std::to_string(partitions.size()) + " partitions";
  }
  std::vector<Arrival> http_arrivals;
  for (size_t i = 0; i < outputs.http.size(); ++i) {
    auto found = by_http_body.find(outputs.http[i].body);
    if (found == by_http_body.end()) continue;
    Arrival arrival{found->second, outputs.http[i].source, {}, outputs.http[i].at};
    for (const KillMark& kill : kills) arrival.before_kill.push_back(i < kill.http_deliveries);
    http_arrivals.push_back(std::move(arrival));
  }
  Context context{mix, positions, kills.size(), events, {}};
  for (const MixRecord& entry : mix) context.group_size[entry.content_group] += 1;
  check_order_of(context, topic_arrivals, report.topic);
  check_duplicates_of(context, topic_arrivals, {}, report.topic);
  check_order_of(context, http_arrivals, report.http);
  check_duplicates_of(context, http_arrivals, sink_stops, report.http);
  return report;
}

}  // namespace sluice::chaos
