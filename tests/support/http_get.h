#pragma once
// A blocking HTTP/1.1 GET for tests (admin endpoints, Prometheus' query API).

#include <cstdint>
#include <string>

namespace sluice::test {

struct HttpGetResult {
  int status = 0;  // 0: no answer (connection refused, timeout)
  std::string body;
};

HttpGetResult http_get(const std::string& host, uint16_t port, const std::string& target);

// Percent-encodes a query parameter value.
std::string url_encode(const std::string& text);

}  // namespace sluice::test
