#include "engine/http_batch.h"

#include <algorithm>

#include "common/text.h"
#include "engine/record_headers.h"

namespace sluice::engine {

BatchSettings BatchSettings::from(const config::HttpBatchConfig& config) {
  BatchSettings settings;
  settings.max_records = static_cast<size_t>(config.max_records);
  settings.max_bytes = config.max_bytes;
  settings.linger = config.linger;
  settings.format = config.format == "ndjson" ? BatchFormat::Ndjson : BatchFormat::Array;
  return settings;
}

bool Batch::bisect() {
  if (records.size() < 2) return false;
  const auto middle = records.begin() + static_cast<std::ptrdiff_t>(records.size() / 2);
  rest.emplace_front(middle, records.end());
  records.erase(middle, records.end());
  return true;
}

Batch Batch::next_part() {
  Batch next;
  if (rest.empty()) return next;
  next.records = std::move(rest.front());
  rest.pop_front();
  next.rest = std::move(rest);
  rest.clear();
  return next;
}

std::string batch_body(const BatchRecords& records, BatchFormat format) {
  size_t size = 2;
  for (const InFlightRecord* record : records) size += record->value().size() + 1;
  std::string body;
  body.reserve(size);
  if (format == BatchFormat::Array) {
    body.push_back('[');
    for (const InFlightRecord* record : records) {
      if (body.size() > 1) body.push_back(',');
      body.append(record->value());
    }
    body.push_back(']');
    return body;
  }
  for (const InFlightRecord* record : records) {
    const std::string_view value = record->value();
    const size_t start = body.size();
    body.append(value);
    // A line break in a JSON value is whitespace between tokens (inside a string it would be
    // escaped): a space keeps the value the same and on one line.
    if (value.find_first_of("\r\n") != std::string_view::npos) {
      std::replace_if(body.begin() + static_cast<std::ptrdiff_t>(start), body.end(),
                      [](char c) { return c == '\n' || c == '\r'; }, ' ');
    }
    body.push_back('\n');
  }
  return body;
}

std::string_view batch_content_type(BatchFormat format) {
  return format == BatchFormat::Array ? "application/json" : "application/x-ndjson";
}

std::string batch_idempotency_key(const BatchRecords& records) {
  std::string fingerprints;
  fingerprints.reserve(records.size() * 32);
  for (const InFlightRecord* record : records) {
    fingerprints.append(reinterpret_cast<const char*>(record->fingerprint.bytes.data()), record->fingerprint.bytes.size());
  }
  return fingerprint::sha256_hex(fingerprints);
}

std::string batch_sources(const BatchRecords& records) {
  std::string sources;
  for (const InFlightRecord* record : records) {
    if (!sources.empty()) sources.push_back(',');
    append_source(sources, *record);
  }
  return sources;
}

std::string batch_fingerprints(const BatchRecords& records) {
  std::string fingerprints;
  fingerprints.reserve(records.size() * 65);
  for (const InFlightRecord* record : records) {
    if (!fingerprints.empty()) fingerprints.push_back(',');
    fingerprints.append(text::to_hex(record->fingerprint.bytes.data(), record->fingerprint.bytes.size()));
  }
  return fingerprints;
}

}  // namespace sluice::engine
