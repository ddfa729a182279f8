#pragma once
// The OpenSSL client context of one HTTP client: TLS 1.2 or later, the system trust store plus
// the configured CA file, and peer verification unless it was switched off explicitly. The
// host name check is per connection (see BeastHttpClient), since it needs the SSL object.

#include <memory>
#include <string>

#include "http/http_client.h"

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace sluice::http {

// nullptr with `error` set when the CA file cannot be read or holds no certificate.
std::unique_ptr<boost::asio::ssl::context> make_client_tls_context(const ClientSettings& settings, std::string& error);

}  // namespace sluice::http
