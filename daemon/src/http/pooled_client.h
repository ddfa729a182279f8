#pragma once
// The HttpClient implementation: a keep-alive connection pool on Boost.Beast and Asio.
// create() in http_client.cc validates the settings and builds the parts handed in here.

#include <memory>

#include "http/http_client.h"
#include "http/request_writer.h"
#include "http/url.h"

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace sluice::http {

// `tls` is set exactly when `endpoint` is https.
std::unique_ptr<HttpClient> make_pooled_client(boost::asio::io_context& io, Endpoint endpoint, RequestWriter writer,
                                               std::unique_ptr<boost::asio::ssl::context> tls,
                                               const ClientSettings& settings, CompletionHandler on_complete);

}  // namespace sluice::http
