#include "common/http_field.h"

namespace sluice::http {
namespace {

bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  constexpr std::string_view kSymbols = "!#$%&'*+-.^_`|~";
  return kSymbols.find(c) != std::string_view::npos;
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
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if ((byte < 0x20 && byte != '\t') || byte == 0x7F) return false;
  }
  return true;
}

}  // namespace sluice::http
