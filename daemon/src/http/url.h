#pragma once
// The parts of an http:// or https:// URL an HTTP client needs to connect and to build the
// request line. Only what a route's `http.url` may hold is accepted: no credentials in the
// authority (they would end up in logs; use an Authorization header), no spaces or control
// characters anywhere.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::http {

struct Endpoint {
  bool tls = false;
  std::string host;         // lowercase; an IPv6 literal without its brackets
  uint16_t port = 0;        // explicit, or 80 / 443
  std::string target;       // path and query, at least "/"; the fragment is dropped
  std::string host_header;  // value of the Host header: host (bracketed for IPv6), ":port" when not the default
  std::string origin;       // scheme://host:port, safe to log (no path or query, which may carry tokens)
  bool host_is_ip = false;  // an IPv4 or IPv6 literal: no SNI, certificate checked for the address
};

// nullopt with `error` set when `url` cannot be used.
std::optional<Endpoint> parse_url(std::string_view url, std::string& error);

}  // namespace sluice::http
