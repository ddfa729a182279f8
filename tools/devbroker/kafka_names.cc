#include "devbroker/kafka_names.h"

#include "common/text.h"

namespace sluice::devbroker {
namespace {

// Request handlers registered by the librdkafka 2.0.2 mock (rdkafka_mock_handlers.c).
// The numbers are Kafka protocol API keys.
constexpr ApiKeyInfo kServedApiKeys[] = {
    {"Produce", 0, true},
    {"Fetch", 1, true},
    {"ListOffsets", 2, true},
    {"Metadata", 3, false},
    {"OffsetCommit", 8, true},
    {"OffsetFetch", 9, true},
    {"FindCoordinator", 10, true},
    {"JoinGroup", 11, true},
    {"Heartbeat", 12, true},
    {"LeaveGroup", 13, true},
    {"SyncGroup", 14, true},
    {"ApiVersions", 18, true},
    {"InitProducerId", 22, true},
    {"AddPartitionsToTxn", 24, true},
    {"AddOffsetsToTxn", 25, true},
    {"EndTxn", 26, true},
    {"TxnOffsetCommit", 28, true},
};

constexpr std::string_view kErrorPrefix = "rd_kafka_resp_err_";
constexpr size_t kMaxTopicNameLength = 249;

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (text::ascii_lower(a[i]) != text::ascii_lower(b[i])) return false;
  }
  return true;
}

}  // namespace

const ApiKeyInfo* find_api_key(std::string_view text) {
  if (auto number = text::parse_int(text)) {
    for (const ApiKeyInfo& info : kServedApiKeys) {
      if (info.key == *number) return &info;
    }
    return nullptr;
  }
  for (const ApiKeyInfo& info : kServedApiKeys) {
    if (equals_ignoring_case(info.name, text)) return &info;
  }
  return nullptr;
}

std::string served_api_key_names() {
  std::string names;
  for (const ApiKeyInfo& info : kServedApiKeys) {
    if (!names.empty()) names += ", ";
    names += info.name;
  }
  return names;
}

bool is_valid_topic_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxTopicNameLength || name == "." || name == "..") return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

ErrorNames::ErrorNames() {
  const rd_kafka_err_desc* descs = nullptr;
  size_t count = 0;
  rd_kafka_get_err_descs(&descs, &count);
  for (size_t i = 0; i < count; ++i) {
    // The table is indexed by code and has holes where no code is defined.
    if (descs[i].name == nullptr || descs[i].name[0] == '\0') continue;
    by_lower_name_.emplace(text::ascii_lower(descs[i].name), descs[i].code);
    by_code_.emplace(static_cast<int64_t>(descs[i].code), descs[i].code);
  }
}

std::optional<rd_kafka_resp_err_t> ErrorNames::find(std::string_view text) const {
  if (auto number = text::parse_int(text)) {
    auto it = by_code_.find(*number);
    if (it == by_code_.end()) return std::nullopt;
    return it->second;
  }
  std::string lower = text::ascii_lower(text);
  if (lower.starts_with(kErrorPrefix)) lower.erase(0, kErrorPrefix.size());
  auto it = by_lower_name_.find(lower);
  if (it == by_lower_name_.end()) return std::nullopt;
  return it->second;
}

std::string describe_error(rd_kafka_resp_err_t err) {
  return std::string(rd_kafka_err2name(err)) + " (" + rd_kafka_err2str(err) + ")";
}

}  // namespace sluice::devbroker
