#include "chaos/accounting.h"

#include <rapidjson/document.h>

#include <optional>
#include <string>
#include <unordered_map>

#include "fingerprint/fingerprint.h"
#include "json/json_parser.h"

namespace sluice::chaos {
namespace {

using devtools::Expected;
using devtools::KafkaRecord;
using devtools::MixRecord;

constexpr size_t kLostExamples = 20;

// What the outputs say about one input record.
struct Seen {
  int topic = 0;           // copies in the downstream topic
  int http = 0;            // 2xx-answered requests with its body
  int rejected = 0;
  int dead_bad_data = 0;   // DLQ copies with the reason the mix predicts
  int dead_exhausted = 0;  // DLQ copies with retries_exhausted (valid records only)
};

// An input record's identity: its `test-id` header (sluice keeps a record's headers on every
// output), else its key. The mix gives each record its own; keys may repeat.
std::string identity(const KafkaRecord& record) {
  return record.header("test-id").value_or(record.key.value_or(""));
}

bool is_valid(const MixRecord& entry) {
  return entry.expected == Expected::Forwarded || entry.expected == Expected::Duplicate;
}

const char* expected_name(Expected expected) {
  switch (expected) {
    case Expected::Forwarded: return "forwarded";
    case Expected::Duplicate: return "duplicate";
    case Expected::Filtered: return "filtered";
    case Expected::DeadLetter: return "dead-lettered";
  }
  return "?";
}

void note(Accounting& result, const std::string& kind, const std::string& example) {
  Problem& problem = result.problems[kind];
  if (problem.count++ == 0) problem.example = example;
}

std::string json_string(const rapidjson::Value& object, const char* name) {
  auto member = object.FindMember(name);
  if (member == object.MemberEnd() || !member->value.IsString()) return "";
  return std::string(member->value.GetString(), member->value.GetStringLength());
}

// The fingerprints sluice must have sent with each valid record (the `sluice-fingerprint`
// header downstream, the Idempotency-Key of an HTTP request), computed with the daemon's
// own fingerprint code from the value the mix produced.
std::vector<std::string> fingerprints_of(const std::vector<MixRecord>& mix) {
  json::JsonParser parser(64);
  json::ParsedDocument document;
  fingerprint::Fingerprinter fingerprinter;
  std::vector<std::string> result(mix.size());
  for (size_t i = 0; i < mix.size(); ++i) {
    if (!is_valid(mix[i]) || !mix[i].record.value) continue;
    const std::string& value = *mix[i].record.value;
    if (parser.parse(value, document).ok) result[i] = fingerprinter.compute(document, value).hex();
  }
  return result;
}

}  // namespace

const char* outcome_name(Outcome outcome) {
  switch (outcome) {
    case Outcome::ForwardedTopic: return "forwarded to the topic";
    case Outcome::ForwardedHttp: return "forwarded over HTTP (2xx)";
    case Outcome::Duplicate: return "duplicate (one of its group forwarded)";
    case Outcome::Filtered: return "filtered (in the rejected topic)";
    case Outcome::DeadLetterBadData: return "dead-lettered: bad data";
    case Outcome::DeadLetterRetriesExhausted: return "dead-lettered: out of retries";
    case Outcome::Lost: return "lost";
    case Outcome::Count: break;
  }
  return "?";
}

Accounting account(const std::vector<MixRecord>& mix, const RunOutputs& outputs) {
  Accounting result;
  result.records_in = mix.size();
  std::unordered_map<std::string, size_t> by_id;
  // HTTP requests carry no record key; their body is the original value, unique per valid
  // record of the mix (each has its own correlation id).
  std::unordered_map<std::string, size_t> by_http_body;
  for (size_t i = 0; i < mix.size(); ++i) {
    if (!by_id.emplace(identity(mix[i].record), i).second) {
      note(result, "two records of the mix share an identity", identity(mix[i].record));
    }
    if (is_valid(mix[i]) && mix[i].downstream_topic != outputs.downstream_topic && mix[i].record.value) {
      if (!by_http_body.emplace(*mix[i].record.value, i).second) {
        note(result, "two valid records of the mix share a value", identity(mix[i].record));
      }
    }
  }
  const std::vector<std::string> fingerprints = fingerprints_of(mix);
  std::vector<Seen> seen(mix.size());
  // The index of the input record an output names by `id`; without one, a note saying what
  // kind of output it was (`what`) and what it named instead (`shown`).
  auto input_index = [&](const std::string& id, const char* what, const std::string& shown) -> std::optional<size_t> {
    auto found = by_id.find(id);
    if (found != by_id.end()) return found->second;
    note(result, std::string(what) + " is not an input record", shown);
    return std::nullopt;
  };

  for (const KafkaRecord& record : outputs.downstream) {
    auto index = input_index(identity(record), "downstream record whose test-id", identity(record));
    if (!index) continue;
    const MixRecord& entry = mix[*index];
    const std::string key = identity(entry.record);
    if (record.key != entry.record.key) note(result, "downstream key differs from the input key", key);
    if (!is_valid(entry)) {
      note(result, std::string("delivered downstream although ") + expected_name(entry.expected), key);
    } else if (entry.downstream_topic != outputs.downstream_topic) {
      note(result, "delivered to the wrong sink (the topic instead of HTTP)", key);
    }
    if (record.value != entry.record.value) note(result, "downstream value differs from the input", key);
    if (is_valid(entry) && record.header("sluice-fingerprint") != fingerprints[*index]) {
      note(result, "downstream sluice-fingerprint header differs from the message's fingerprint", key);
    }
    for (const auto& [name, value] : entry.record.headers) {
      if (record.header(name) != value) note(result, "downstream record lost an original header", key + ": " + name);
    }
    seen[*index].topic += 1;
  }

  for (const HttpDelivery& delivery : outputs.http) {
    auto found = by_http_body.find(delivery.body);
    if (found == by_http_body.end()) {
      note(result, "HTTP delivery whose body is not a valid record for that route", delivery.body.substr(0, 120));
      continue;
    }
    if (delivery.idempotency_key != fingerprints[found->second]) {
      note(result, "Idempotency-Key differs from the message's fingerprint", identity(mix[found->second].record));
    }
    seen[found->second].http += 1;
  }

  for (const KafkaRecord& record : outputs.dead_letters) {
    rapidjson::Document parsed;
    // Read through a const reference: clang's C++20 check finds the comparison of RapidJSON's
    // non-const member iterators ambiguous (-Wambiguous-reversed-operator).
    const rapidjson::Document& envelope = parsed;
    const std::string value = record.value.value_or("");
    if (parsed.Parse(value.data(), value.size()).HasParseError() || !envelope.IsObject()) {
      note(result, "DLQ record whose value is not a JSON envelope", value.substr(0, 120));
      continue;
    }
    const std::string original_key = json_string(envelope, "original_key");
    const std::string id = record.header("test-id").value_or(original_key);
    auto index = input_index(id, "DLQ record whose test-id (or original_key)", id.empty() ? value.substr(0, 120) : id);
    if (!index) continue;
    const MixRecord& entry = mix[*index];
    const std::string key = identity(entry.record);
    const std::string error = json_string(envelope, "error");
    if (record.key != entry.record.key) note(result, "DLQ record key differs from the original key", key);
    if (original_key != entry.record.key) note(result, "DLQ original_key differs from the input key", key);
    auto original = envelope.FindMember("original_message");
    if (original != envelope.MemberEnd() && original->value.IsString() &&
        std::string(original->value.GetString(), original->value.GetStringLength()) != entry.record.value) {
      note(result, "DLQ original_message differs from the input", key);
    }
    if (entry.expected == Expected::DeadLetter) {
      if (error == entry.reason) {
        seen[*index].dead_bad_data += 1;
      } else {
        note(result, "bad record dead-lettered with the wrong reason", key + ": " + error + ", expected " + entry.reason);
      }
    } else if (is_valid(entry) && error == "retries_exhausted") {
      seen[*index].dead_exhausted += 1;
      std::string detail = json_string(envelope, "error_detail");
      detail = detail.substr(0, detail.find(" after "));
      result.exhausted_by_detail[detail] += 1;
      auto exceeded = envelope.FindMember("max_retries_exceeded");
      if (exceeded == envelope.MemberEnd() || !exceeded->value.IsBool() || !exceeded->value.GetBool()) {
        note(result, "retries_exhausted envelope without max_retries_exceeded", key);
      }
    } else {
      note(result, std::string("dead-lettered (") + error + ") although " + expected_name(entry.expected), key);
    }
  }

  for (const KafkaRecord& record : outputs.rejected) {
    auto index = input_index(identity(record), "rejected record whose test-id", identity(record));
    if (!index) continue;
    const MixRecord& entry = mix[*index];
    if (record.key != entry.record.key) note(result, "rejected key differs from the input key", identity(entry.record));
    if (entry.expected != Expected::Filtered) {
      note(result, std::string("filtered although ") + expected_name(entry.expected), identity(entry.record));
      continue;
    }
    if (record.header("sluice-filter-reason") != entry.reason) {
      note(result, "filtered with the wrong reason", identity(entry.record) + ": " + record.header("sluice-filter-reason").value_or(""));
    }
    if (record.value != entry.record.value) note(result, "rejected value differs from the input", identity(entry.record));
    seen[*index].rejected += 1;
  }

  // Deliveries per content group: a duplicate is accounted for when any record of its group
  // reached the sink; more than one delivery of a group is a redelivery.
  std::unordered_map<std::string, int> group_topic;
  std::unordered_map<std::string, int> group_http;
  for (size_t i = 0; i < mix.size(); ++i) {
    if (!is_valid(mix[i])) continue;
    group_topic[mix[i].content_group] += seen[i].topic;
    group_http[mix[i].content_group] += seen[i].http;
  }
  for (const auto& [group, topic] : group_topic) {
    int http = group_http[group];
    if (topic + http > 1) {
      // Attribute the surplus to the sink it happened on (a group only ever has one sink).
      (topic > 0 ? result.duplicate_deliveries_topic : result.duplicate_deliveries_http) +=
          static_cast<size_t>(topic + http - 1);
    }
  }

  for (size_t i = 0; i < mix.size(); ++i) {
    const MixRecord& entry = mix[i];
    const Seen& record = seen[i];
    Outcome outcome = Outcome::Lost;
    switch (entry.expected) {
      case Expected::Forwarded:
      case Expected::Duplicate: {
        int group = group_topic[entry.content_group] + group_http[entry.content_group];
        if (record.topic > 0) {
          outcome = Outcome::ForwardedTopic;
        } else if (record.http > 0) {
          outcome = Outcome::ForwardedHttp;
        } else if (group > 0) {
          outcome = Outcome::Duplicate;
        } else if (record.dead_exhausted > 0) {
          outcome = Outcome::DeadLetterRetriesExhausted;
        }
        if (record.topic + record.http > 0 && record.dead_exhausted > 0) result.delivered_and_exhausted += 1;
        if (record.dead_exhausted > 1) result.repeated_dead_letters += static_cast<size_t>(record.dead_exhausted - 1);
        break;
      }
      case Expected::Filtered:
        if (record.rejected > 0) outcome = Outcome::Filtered;
        if (record.rejected > 1) result.repeated_rejections += static_cast<size_t>(record.rejected - 1);
        break;
      case Expected::DeadLetter:
        if (record.dead_bad_data > 0) outcome = Outcome::DeadLetterBadData;
        if (record.dead_bad_data > 1) result.repeated_dead_letters += static_cast<size_t>(record.dead_bad_data - 1);
        break;
    }
    result.outcomes[static_cast<size_t>(outcome)] += 1;
    if (outcome == Outcome::Lost && result.lost_examples.size() < kLostExamples) {
      result.lost_examples.push_back(identity(entry.record) + " (" + entry.record.topic + ", expected " +
                                     expected_name(entry.expected) +
                                     (entry.reason.empty() ? "" : " " + entry.reason) + ")");
    }
  }
  return result;
}

}  // namespace sluice::chaos
