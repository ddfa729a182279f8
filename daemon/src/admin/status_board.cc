#include "admin/status_board.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <chrono>

#include "common/text.h"

namespace sluice::admin {
namespace {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

void write_string(JsonWriter& out, std::string_view text) {
  out.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
}

// -1 (unknown) is written as null.
void write_offset(JsonWriter& out, int64_t offset) {
  if (offset < 0) {
    out.Null();
  } else {
    out.Int64(offset);
  }
}

int64_t read_int(const rapidjson::Value& object, const char* name) {
  auto it = object.FindMember(name);
  if (it == object.MemberEnd() || !it->value.IsInt64()) return -1;
  return it->value.GetInt64();
}

std::string read_string(const rapidjson::Value& object, const char* name) {
  auto it = object.FindMember(name);
  if (it == object.MemberEnd() || !it->value.IsString()) return {};
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

bool read_bool(const rapidjson::Value& object, const char* name) {
  auto it = object.FindMember(name);
  return it != object.MemberEnd() && it->value.IsBool() && it->value.GetBool();
}

const rapidjson::Value* member(const rapidjson::Value& object, const char* name, bool array) {
  auto it = object.FindMember(name);
  if (it == object.MemberEnd() || (array ? !it->value.IsArray() : !it->value.IsObject())) return nullptr;
  return &it->value;
}

}  // namespace

void StatusBoard::publish(const StatusSnapshot& snapshot) {
  std::lock_guard<std::mutex> lock(mutex_);
  snapshot_ = snapshot;
}

StatusSnapshot StatusBoard::read() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return snapshot_;
}

std::string status_to_json(const StatusSnapshot& snapshot) {
  rapidjson::StringBuffer buffer;
  JsonWriter out(buffer);
  out.StartObject();
  out.Key("taken_at");
  write_string(out, text::format_rfc3339_utc(
                        std::chrono::system_clock::time_point(std::chrono::milliseconds(snapshot.taken_at_ms))));
  out.Key("taken_at_ms");
  out.Int64(snapshot.taken_at_ms);
  out.Key("group_id");
  write_string(out, snapshot.group_id);
  out.Key("delivery");
  write_string(out, snapshot.delivery);
  out.Key("in_group");
  out.Bool(snapshot.in_group);
  out.Key("brokers_reached");
  out.Bool(snapshot.brokers_reached);
  out.Key("partitions");
  out.StartArray();
  for (const PartitionStatus& partition : snapshot.partitions) {
    out.StartObject();
    out.Key("topic");
    write_string(out, partition.topic);
    out.Key("partition");
    out.Int64(partition.partition);
    out.Key("committed");
    write_offset(out, partition.committed);
    out.Key("position");
    write_offset(out, partition.position);
    out.Key("high_watermark");
    write_offset(out, partition.high_watermark);
    out.Key("lag");
    write_offset(out, partition.lag);
    out.Key("in_flight");
    out.Int64(partition.in_flight);
    out.Key("retry_held");
    out.Int64(partition.retry_held);
    out.Key("paused_for");
    out.StartArray();
    for (const std::string& reason : partition.paused_for) write_string(out, reason);
    out.EndArray();
    out.EndObject();
  }
  out.EndArray();
  out.Key("destinations");
  out.StartArray();
  for (const DestinationStatus& destination : snapshot.destinations) {
    out.StartObject();
    out.Key("name");
    write_string(out, destination.name);
    out.Key("breaker");
    write_string(out, destination.breaker);
    out.Key("queued");
    out.Int64(destination.queued);
    out.Key("waiting");
    out.Int64(destination.waiting);
    out.Key("in_flight");
    out.Int64(destination.in_flight);
    out.EndObject();
  }
  out.EndArray();
  out.Key("totals");
  out.StartObject();
  out.Key("assigned_partitions");
  out.Int64(static_cast<int64_t>(snapshot.partitions.size()));
  out.Key("in_flight_records");
  out.Int64(snapshot.in_flight_records);
  out.Key("in_flight_bytes");
  out.Int64(snapshot.in_flight_bytes);
  out.Key("retry_held");
  out.Int64(snapshot.retry_held);
  out.EndObject();
  out.Key("dedup");
  out.StartObject();
  out.Key("backend");
  write_string(out, snapshot.dedup_backend);
  out.Key("state");
  write_string(out, snapshot.dedup_state);
  out.EndObject();
  out.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize()) + "\n";
}

std::optional<StatusSnapshot> status_from_json(std::string_view json, std::string& error) {
  rapidjson::Document document;
  document.Parse(json.data(), json.size());
  if (document.HasParseError() || !document.IsObject()) {
    error = "not a JSON object";
    return std::nullopt;
  }
  const rapidjson::Value* partitions = member(document, "partitions", true);
  const rapidjson::Value* destinations = member(document, "destinations", true);
  const rapidjson::Value* totals = member(document, "totals", false);
  if (partitions == nullptr || destinations == nullptr || totals == nullptr) {
    error = "not a sluice status document (partitions, destinations or totals missing)";
    return std::nullopt;
  }
  StatusSnapshot snapshot;
  snapshot.taken_at_ms = std::max<int64_t>(0, read_int(document, "taken_at_ms"));
  snapshot.group_id = read_string(document, "group_id");
  snapshot.delivery = read_string(document, "delivery");
  snapshot.in_group = read_bool(document, "in_group");
  snapshot.brokers_reached = read_bool(document, "brokers_reached");
  for (const rapidjson::Value& entry : partitions->GetArray()) {
    if (!entry.IsObject()) continue;
    PartitionStatus& partition = snapshot.partitions.emplace_back();
    partition.topic = read_string(entry, "topic");
    partition.partition = static_cast<int32_t>(read_int(entry, "partition"));
    partition.committed = read_int(entry, "committed");
    partition.position = read_int(entry, "position");
    partition.high_watermark = read_int(entry, "high_watermark");
    partition.lag = read_int(entry, "lag");
    partition.in_flight = std::max<int64_t>(0, read_int(entry, "in_flight"));
    partition.retry_held = std::max<int64_t>(0, read_int(entry, "retry_held"));
    if (const rapidjson::Value* reasons = member(entry, "paused_for", true)) {
      for (const rapidjson::Value& reason : reasons->GetArray()) {
        if (reason.IsString()) partition.paused_for.emplace_back(reason.GetString(), reason.GetStringLength());
      }
    }
  }
  for (const rapidjson::Value& entry : destinations->GetArray()) {
    if (!entry.IsObject()) continue;
    DestinationStatus& destination = snapshot.destinations.emplace_back();
    destination.name = read_string(entry, "name");
    destination.breaker = read_string(entry, "breaker");
    destination.queued = std::max<int64_t>(0, read_int(entry, "queued"));
    destination.waiting = std::max<int64_t>(0, read_int(entry, "waiting"));
    destination.in_flight = std::max<int64_t>(0, read_int(entry, "in_flight"));
  }
  snapshot.in_flight_records = std::max<int64_t>(0, read_int(*totals, "in_flight_records"));
  snapshot.in_flight_bytes = std::max<int64_t>(0, read_int(*totals, "in_flight_bytes"));
  snapshot.retry_held = std::max<int64_t>(0, read_int(*totals, "retry_held"));
  if (const rapidjson::Value* dedup = member(document, "dedup", false)) {
    snapshot.dedup_backend = read_string(*dedup, "backend");
    snapshot.dedup_state = read_string(*dedup, "state");
  }
  return snapshot;
}

}  // namespace sluice::admin
