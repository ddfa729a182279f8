#include "admin/status_board.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <chrono>

#include "common/text.h"

namespace sluice::admin {
namespace {

// A small writer: the shape is fixed, so no DOM is built to write it.
class JsonOut {
 public:
  JsonOut& key(std::string_view name) {
    separate();
    out_ += '"';
    text::append_json_escaped(out_, name);
    out_ += "\":";
    after_key_ = true;
    return *this;
  }
  JsonOut& string(std::string_view value) {
    separate();
    out_ += '"';
    text::append_json_escaped(out_, value);
    out_ += '"';
    return *this;
  }
  JsonOut& number(int64_t value) {
    separate();
    out_ += std::to_string(value);
    return *this;
  }
  // -1 (unknown) is written as null.
  JsonOut& offset(int64_t value) {
    separate();
    out_ += value < 0 ? "null" : std::to_string(value);
    return *this;
  }
  JsonOut& boolean(bool value) {
    separate();
    out_ += value ? "true" : "false";
    return *this;
  }
  JsonOut& open(char bracket) {
    separate();
    out_ += bracket;
    first_ = true;
    return *this;
  }
  JsonOut& close(char bracket) {
    out_ += bracket;
    first_ = false;
    return *this;
  }
  std::string take() { return std::move(out_); }

 private:
  void separate() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (!first_) out_ += ',';
    first_ = false;
  }
  std::string out_;
  bool first_ = true;
  bool after_key_ = false;
};

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
  JsonOut out;
  out.open('{');
  out.key("taken_at").string(text::format_rfc3339_utc(std::chrono::system_clock::time_point(
      std::chrono::milliseconds(snapshot.taken_at_ms))));
  out.key("taken_at_ms").number(snapshot.taken_at_ms);
  out.key("group_id").string(snapshot.group_id);
  out.key("delivery").string(snapshot.delivery);
  out.key("in_group").boolean(snapshot.in_group);
  out.key("brokers_reached").boolean(snapshot.brokers_reached);
  out.key("partitions").open('[');
  for (const PartitionStatus& partition : snapshot.partitions) {
    out.open('{');
    out.key("topic").string(partition.topic);
    out.key("partition").number(partition.partition);
    out.key("committed").offset(partition.committed);
    out.key("position").offset(partition.position);
    out.key("high_watermark").offset(partition.high_watermark);
    out.key("lag").offset(partition.lag);
    out.key("in_flight").number(partition.in_flight);
    out.key("retry_held").number(partition.retry_held);
    out.key("paused_for").open('[');
    for (const std::string& reason : partition.paused_for) out.string(reason);
    out.close(']');
    out.close('}');
  }
  out.close(']');
  out.key("destinations").open('[');
  for (const DestinationStatus& destination : snapshot.destinations) {
    out.open('{');
    out.key("name").string(destination.name);
    out.key("breaker").string(destination.breaker);
    out.key("queued").number(destination.queued);
    out.key("waiting").number(destination.waiting);
    out.key("in_flight").number(destination.in_flight);
    out.close('}');
  }
  out.close(']');
  out.key("totals").open('{');
  out.key("assigned_partitions").number(static_cast<int64_t>(snapshot.partitions.size()));
  out.key("in_flight_records").number(snapshot.in_flight_records);
  out.key("in_flight_bytes").number(snapshot.in_flight_bytes);
  out.key("retry_held").number(snapshot.retry_held);
  out.close('}');
  out.key("dedup").open('{');
  out.key("backend").string(snapshot.dedup_backend);
  out.key("state").string(snapshot.dedup_state);
  out.close('}');
  out.close('}');
  return out.take() + "\n";
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
