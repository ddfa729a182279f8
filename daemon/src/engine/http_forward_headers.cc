#include "engine/http_forward_headers.h"

#include <cstring>

#include "common/http_field.h"
#include "common/text.h"
#include "engine/record_headers.h"
#include "engine/trace_context.h"

namespace sluice::engine {
namespace {

constexpr const char* kKeyHeader = "X-Sluice-Key";
constexpr const char* kKeyEncodingHeader = "X-Sluice-Key-Encoding";
constexpr std::string_view kTraceHeaders[] = {kTraceparentHeader, "tracestate", "baggage"};

// HTTP field names are case-insensitive: two names that differ only in case are one field.
bool same_field_name(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (text::ascii_lower(a[i]) != text::ascii_lower(b[i])) return false;
  }
  return true;
}

// A value a receiver gets exactly as sent: no control character (http::is_field_value) and no
// whitespace at either end, which RFC 9110 does not count as part of a field value.
bool is_exact_field_value(std::string_view value) {
  if (!value.empty() && (value.front() == ' ' || value.front() == '\t' || value.back() == ' ' || value.back() == '\t')) {
    return false;
  }
  return http::is_field_value(value);
}

bool is_plain_key(std::string_view key) {
  if (!key.empty() && (key.front() == ' ' || key.back() == ' ')) return false;
  for (char c : key) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte > 0x7E) return false;
  }
  return true;
}

// RFC 4648 section 5, without padding.
std::string base64url(std::string_view bytes) {
  std::string encoded = text::base64_encode(bytes);
  while (!encoded.empty() && encoded.back() == '=') encoded.pop_back();
  for (char& c : encoded) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return encoded;
}

}  // namespace

std::string_view header_drop_name(HeaderDrop reason) {
  switch (reason) {
    case HeaderDrop::InvalidName: return "invalid_name";
    case HeaderDrop::InvalidValue: return "invalid_value";
    case HeaderDrop::OwnedName: return "owned_name";
  }
  return "unknown";
}

void HeaderDrops::add(std::string_view name, HeaderDrop reason) {
  const auto index = static_cast<size_t>(reason);
  if (count[index] == 0) first_name[index].assign(name);
  count[index] += 1;
}

void HeaderDrops::clear() {
  if (!any()) return;
  count.fill(0);
  for (std::string& name : first_name) name.clear();
}

HttpForwardHeaders::HttpForwardHeaders(const config::HttpRouteConfig& route) {
  for (const auto& [name, value] : route.headers) configured_.push_back(text::ascii_lower(name));
  for (std::string_view name : kTraceHeaders) patterns_.push_back({std::string(name), false, owned(name)});
  for (const std::string& entry : route.forward_headers) {
    const bool prefix = entry.ends_with('*');
    std::string name = prefix ? entry.substr(0, entry.size() - 1) : entry;
    const bool is_owned = !prefix && owned(name);
    patterns_.push_back({std::move(name), prefix, is_owned});
  }
}

const HttpForwardHeaders::Pattern* HttpForwardHeaders::match(std::string_view name) const {
  if (name.starts_with(header::kPrefix)) return nullptr;
  for (const Pattern& pattern : patterns_) {
    if (pattern.prefix ? name.starts_with(pattern.name) : name == pattern.name) return &pattern;
  }
  return nullptr;
}

bool HttpForwardHeaders::owned(std::string_view name) const {
  if (http::is_route_owned_header(name)) return true;
  for (const std::string& configured : configured_) {
    if (http::field_name_is(name, configured)) return true;
  }
  return false;
}

void HttpForwardHeaders::append(const kafka::Message& message, http::HeaderList& out, HeaderDrops& drops) {
  chosen_.clear();
  if (const rd_kafka_headers_t* headers = message.headers(); headers != nullptr) {
    const char* name = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    for (size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
      const std::string_view header_name(name, std::strlen(name));
      const Pattern* pattern = match(header_name);
      if (pattern == nullptr) continue;
      const std::string_view header_value =
          value != nullptr ? std::string_view(static_cast<const char*>(value), size) : std::string_view();
      // The last header of a name wins, as a Kafka client's lastHeader() reads it.
      bool replaced = false;
      for (Chosen& earlier : chosen_) {
        if (same_field_name(earlier.name, header_name)) {
          earlier = {header_name, header_value, pattern};
          replaced = true;
          break;
        }
      }
      if (!replaced) chosen_.push_back({header_name, header_value, pattern});
    }
  }
  for (const Chosen& header : chosen_) {
    // A prefix match may be any name; an exact one was checked when the route was made.
    const bool by_prefix = header.pattern->prefix;
    if (by_prefix && !http::is_token(header.name)) {
      drops.add(header.name, HeaderDrop::InvalidName);
    } else if (by_prefix ? owned(header.name) : header.pattern->owned) {
      drops.add(header.name, HeaderDrop::OwnedName);
    } else if (!is_exact_field_value(header.value)) {
      drops.add(header.name, HeaderDrop::InvalidValue);
    } else {
      out.emplace_back(std::string(header.name), std::string(header.value));
    }
  }
  append_key_headers(message, out);
}

void HttpForwardHeaders::append_common(const std::vector<const kafka::Message*>& messages, http::HeaderList& out,
                                       HeaderDrops& drops) {
  if (messages.empty()) return;
  const size_t first = out.size();
  append(*messages[0], out, drops);
  for (size_t m = 1; m < messages.size(); ++m) {
    scratch_.clear();
    append(*messages[m], scratch_, drops);  // every record's drops count, whatever is left in common
    // Keeps, in order, the headers this record sends too, with the same value.
    size_t kept = first;
    for (size_t i = first; i < out.size(); ++i) {
      bool shared = false;
      for (const auto& [name, value] : scratch_) {
        if (name == out[i].first && value == out[i].second) {
          shared = true;
          break;
        }
      }
      if (shared) {
        if (kept != i) out[kept] = std::move(out[i]);
        ++kept;
      }
    }
    out.resize(kept);
  }
}

void append_key_headers(const kafka::Message& message, http::HeaderList& out) {
  if (message.key_data() == nullptr) return;
  const std::string_view key = message.key();
  if (is_plain_key(key)) {
    out.emplace_back(kKeyHeader, std::string(key));
    return;
  }
  out.emplace_back(kKeyHeader, base64url(key));
  out.emplace_back(kKeyEncodingHeader, "base64url");
}

}  // namespace sluice::engine
