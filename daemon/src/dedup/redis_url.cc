// Parsing of pipeline.dedup.redis_url (redis_dedup_store.h declares it): kept apart from the
// store's protocol code. Errors never quote the password.

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "common/text.h"
#include "dedup/redis_dedup_store.h"

namespace sluice::dedup {
namespace {

constexpr std::string_view kScheme = "redis://";
constexpr int kDefaultPort = 6379;

// The URL with everything between the scheme and the last '@' hidden, so that a password
// (encoded or not) never reaches an error message.
std::string redacted(std::string_view url) {
  const size_t scheme_end = url.find("://");
  const size_t at = url.rfind('@');
  if (scheme_end == std::string_view::npos || at == std::string_view::npos || at < scheme_end) return std::string(url);
  return std::string(url.substr(0, scheme_end + 3)) + "***" + std::string(url.substr(at));
}

[[noreturn]] void reject(std::string_view url, std::string_view why) {
  throw std::runtime_error("invalid pipeline.dedup.redis_url " + redacted(url) + ": " + std::string(why));
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = text::ascii_lower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

std::string percent_decoded(std::string_view url, std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    const int high = i + 2 < text.size() ? hex_value(text[i + 1]) : -1;
    const int low = i + 2 < text.size() ? hex_value(text[i + 2]) : -1;
    if (high < 0 || low < 0) reject(url, "bad percent-encoding in the user or password");
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return out;
}

// A decimal number of digits only (no sign, no spaces), or nullopt.
std::optional<int64_t> parse_digits(std::string_view text) {
  if (text.empty() || text.size() > 18) return std::nullopt;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  return text::parse_int(text);
}

}  // namespace

RedisEndpoint parse_redis_url(std::string_view url) {
  const size_t separator = url.find("://");
  const std::string scheme =
      separator == std::string_view::npos ? std::string() : text::ascii_lower(url.substr(0, separator + 3));
  if (scheme != kScheme) {
    if (scheme == "rediss://") reject(url, "TLS (rediss://) is not supported; use redis://");
    if (scheme.empty()) reject(url, "expected redis://[[user]:password@]host[:port][/db]");
    reject(url, "the scheme must be redis://, not " + scheme);
  }
  std::string_view rest = url.substr(kScheme.size());
  RedisEndpoint endpoint;

  // The last '@' ends the user information, so an unencoded '@' in a password still works.
  const size_t at = rest.rfind('@');
  if (at != std::string_view::npos) {
    const std::string_view user_info = rest.substr(0, at);
    rest = rest.substr(at + 1);
    const size_t colon = user_info.find(':');
    if (colon == std::string_view::npos) reject(url, "a user needs a password: redis://user:password@host");
    endpoint.username = percent_decoded(url, user_info.substr(0, colon));
    endpoint.password = percent_decoded(url, user_info.substr(colon + 1));
    if (endpoint.password.empty()) reject(url, "the password is empty");
  }
  if (rest.find_first_of("?#") != std::string_view::npos) reject(url, "query parameters are not supported");

  const size_t slash = rest.find('/');
  const std::string_view authority = rest.substr(0, slash);
  const std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);

  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) reject(url, "unterminated [ in the host");
    endpoint.host = std::string(authority.substr(1, close - 1));
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') reject(url, "unexpected text after ]");
    if (!after.empty()) port_text = after.substr(1);
    if (!after.empty() && port_text.empty()) reject(url, "the port is empty");
  } else {
    const size_t colon = authority.find(':');
    endpoint.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.find(':') != std::string_view::npos) reject(url, "put an IPv6 address in brackets: [::1]");
      if (port_text.empty()) reject(url, "the port is empty");
    }
  }
  if (endpoint.host.empty()) reject(url, "no host");
  if (!port_text.empty()) {
    const std::optional<int64_t> port = parse_digits(port_text);
    if (!port || *port < 1 || *port > 65535) reject(url, "the port must be a number from 1 to 65535");
    endpoint.port = static_cast<int>(*port);
  } else {
    endpoint.port = kDefaultPort;
  }
  if (!path.empty()) {
    const std::optional<int64_t> db = parse_digits(path);
    if (!db) reject(url, "the path must be a database number, e.g. /0");
    endpoint.db = *db;
  }
  return endpoint;
}

}  // namespace sluice::dedup
