#include "http/url.h"

#include <arpa/inet.h>

#include <cstddef>

#include "common/text.h"

namespace sluice::http {
namespace {

bool is_host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

// Spaces, control characters and bytes above 0x7E cannot appear in a request line.
bool is_target_char(char c) {
  const auto byte = static_cast<unsigned char>(c);
  return byte > 0x20 && byte < 0x7F;
}

bool is_ipv4_literal(const std::string& host) {
  in_addr address{};
  return inet_pton(AF_INET, host.c_str(), &address) == 1;
}

bool is_ipv6_literal(const std::string& host) {
  in6_addr address{};
  return inet_pton(AF_INET6, host.c_str(), &address) == 1;
}

std::optional<uint16_t> parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  uint32_t port = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    port = port * 10 + static_cast<uint32_t>(c - '0');
  }
  if (port == 0 || port > 65535) return std::nullopt;
  return static_cast<uint16_t>(port);
}

}  // namespace

std::optional<Endpoint> parse_url(std::string_view url, std::string& error) {
  auto fail = [&](std::string_view why) -> std::optional<Endpoint> {
    error = "invalid url: " + std::string(why);
    return std::nullopt;
  };

  Endpoint endpoint;
  const std::string lowered_start = text::ascii_lower(url.substr(0, 8));
  std::string_view rest;
  if (lowered_start.starts_with("http://")) {
    rest = url.substr(7);
  } else if (lowered_start.starts_with("https://")) {
    endpoint.tls = true;
    rest = url.substr(8);
  } else {
    return fail("the scheme must be http:// or https://");
  }
  for (char c : rest) {
    if (!is_target_char(c)) return fail("it contains a space, a control character or a non-ASCII byte");
  }

  const size_t authority_end = rest.find_first_of("/?#");
  const std::string_view authority = rest.substr(0, authority_end);
  std::string_view target = authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);
  if (authority.find('@') != std::string_view::npos) {
    return fail("credentials in the url are not supported (use an Authorization header)");
  }

  std::string_view host;
  std::string_view port_text;
  bool bracketed = false;
  if (authority.starts_with('[')) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return fail("an IPv6 address needs a closing ]");
    host = authority.substr(1, close - 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return fail("unexpected text after the IPv6 address");
      port_text = after.substr(1);
      if (port_text.empty()) return fail("the port is empty");
    }
    bracketed = true;
  } else {
    const size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) return fail("the port is empty");
    }
  }
  if (host.empty()) return fail("the host is empty");

  endpoint.host = text::ascii_lower(host);
  if (bracketed) {
    if (!is_ipv6_literal(endpoint.host)) return fail("\"" + endpoint.host + "\" is not an IPv6 address");
    endpoint.host_is_ip = true;
  } else {
    for (char c : endpoint.host) {
      if (!is_host_char(c)) return fail("the host contains a character that is not allowed in a host name");
    }
    endpoint.host_is_ip = is_ipv4_literal(endpoint.host);
  }

  const uint16_t default_port = endpoint.tls ? 443 : 80;
  if (port_text.empty()) {
    endpoint.port = default_port;
  } else {
    const std::optional<uint16_t> port = parse_port(port_text);
    if (!port) return fail("the port must be a number from 1 to 65535");
    endpoint.port = *port;
  }

  // The fragment belongs to the client side of a URL and is never sent.
  const size_t fragment = target.find('#');
  if (fragment != std::string_view::npos) target = target.substr(0, fragment);
  if (target.empty() || target[0] == '?') {
    endpoint.target = "/";
    endpoint.target.append(target);
  } else {
    endpoint.target = target;
  }

  // Built with append, not `"literal" + std::string`: GCC 12 at -O3 reports the latter as a
  // -Wrestrict overlap (a false positive in its inlined memcpy bounds).
  std::string host_part;
  if (bracketed) {
    host_part.append("[").append(endpoint.host).append("]");
  } else {
    host_part = endpoint.host;
  }
  const std::string port_number = std::to_string(endpoint.port);
  endpoint.host_header = host_part;
  if (endpoint.port != default_port) endpoint.host_header.append(":").append(port_number);
  endpoint.origin.assign(endpoint.tls ? "https://" : "http://").append(host_part).append(":").append(port_number);
  return endpoint;
}

}  // namespace sluice::http
