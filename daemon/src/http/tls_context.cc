#include "http/tls_context.h"

#include <openssl/ssl.h>

#include <fstream>

#include <boost/asio/ssl/context.hpp>

namespace sluice::http {

namespace ssl = boost::asio::ssl;

std::unique_ptr<ssl::context> make_client_tls_context(const ClientSettings& settings, std::string& error) {
  auto context = std::make_unique<ssl::context>(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
  boost::system::error_code ec;
  // Without a system store (a minimal container) only ca_file can make a server trusted,
  // which the handshake then reports; that is no reason to refuse to start.
  context->set_default_verify_paths(ec);
  if (!settings.ca_file.empty()) {
    if (!std::ifstream(settings.ca_file).good()) {
      error = "cannot read ca_file " + settings.ca_file;
      return nullptr;
    }
    context->load_verify_file(settings.ca_file, ec);
    if (ec) {
      error = "ca_file " + settings.ca_file + " holds no usable PEM certificate: " + ec.message();
      return nullptr;
    }
  }
  context->set_verify_mode(settings.verify ? ssl::verify_peer : ssl::verify_none);
  return context;
}

}  // namespace sluice::http
