#include "common/http_field.h"

#include <cstdint>
#include <cstring>

namespace sluice::http {
namespace {

bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  constexpr std::string_view kSymbols = "!#$%&'*+-.^_`|~";
  return kSymbols.find(c) != std::string_view::npos;
}

bool is_field_value_bytewise(std::string_view text) {
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if ((byte < 0x20 && byte != '\t') || byte == 0x7F) return false;
  }
  return true;
}

}  // namespace

bool field_name_is(std::string_view name, std::string_view lowercase) {
  if (name.size() != lowercase.size()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if ((c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c) != lowercase[i]) return false;
  }
  return true;
}

bool is_route_owned_header(std::string_view name) {
  constexpr std::string_view kOwned[] = {"content-length", "transfer-encoding", "connection", "host",
                                         "user-agent",     "content-type",      "idempotency-key"};
  constexpr std::string_view kSluicePrefix = "x-sluice-";
  if (name.size() >= kSluicePrefix.size() && field_name_is(name.substr(0, kSluicePrefix.size()), kSluicePrefix)) {
    return true;
  }
  for (std::string_view owned : kOwned) {
    if (field_name_is(name, owned)) return true;
  }
  return false;
}

bool is_token(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!is_tchar(c)) return false;
  }
  return true;
}

bool is_field_value(std::string_view text) {
  // Every request header passes here (the HTTP client checks each one), so eight bytes are
  // looked at together: a word without a byte below 0x20 or a DEL is fine as a whole, and only
  // a word with one (an HTAB, or something to refuse) is looked at byte by byte.
  constexpr uint64_t kOnes = 0x0101010101010101;
  constexpr uint64_t kHigh = 0x8080808080808080;
  size_t i = 0;
  for (; i + sizeof(uint64_t) <= text.size(); i += sizeof(uint64_t)) {
    uint64_t word = 0;
    std::memcpy(&word, text.data() + i, sizeof word);
    const uint64_t below_space = (word - kOnes * 0x20) & ~word & kHigh;  // exact for "any byte < 0x20"
    const uint64_t del = word ^ (kOnes * 0x7F);
    const uint64_t has_del = (del - kOnes) & ~del & kHigh;  // any byte == 0x7F
    if ((below_space | has_del) != 0 && !is_field_value_bytewise(text.substr(i, sizeof word))) return false;
  }
  return is_field_value_bytewise(text.substr(i));
}

}  // namespace sluice::http
