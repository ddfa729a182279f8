#include "http/http_client.h"

#include <utility>

#include <boost/asio/ssl/context.hpp>

#include "common/log.h"
#include "http/pooled_client.h"
#include "http/request_writer.h"
#include "http/tls_context.h"
#include "http/url.h"

namespace sluice::http {
namespace {

// Far above any sensible pool for one endpoint; a larger value is a typo.
constexpr int kMaxConnectionsLimit = 1024;
constexpr int kMaxPipelineDepth = 64;

}  // namespace

std::string_view outcome_name(Response::Outcome outcome) {
  switch (outcome) {
    case Response::Outcome::Status:
      return "status";
    case Response::Outcome::TimedOut:
      return "timed_out";
    case Response::Outcome::ConnectFailed:
      return "connect_failed";
    case Response::Outcome::ConnectionLost:
      return "connection_lost";
    case Response::Outcome::TlsFailed:
      return "tls_failed";
    case Response::Outcome::Cancelled:
      return "cancelled";
    case Response::Outcome::InvalidRequest:
      return "invalid_request";
  }
  return "unknown";
}

std::unique_ptr<HttpClient> HttpClient::create(boost::asio::io_context& io, const ClientSettings& settings,
                                               CompletionHandler on_complete, std::string& error) {
  std::optional<Endpoint> endpoint = parse_url(settings.url, error);
  if (!endpoint) return nullptr;
  if (settings.timeout.count() <= 0) {
    error = "the http timeout must be positive";
    return nullptr;
  }
  if (settings.max_connections < 1 || settings.max_connections > kMaxConnectionsLimit) {
    error = "max_connections must be from 1 to " + std::to_string(kMaxConnectionsLimit);
    return nullptr;
  }
  if (settings.pipeline_depth < 1 || settings.pipeline_depth > kMaxPipelineDepth) {
    error = "pipeline_depth must be from 1 to " + std::to_string(kMaxPipelineDepth);
    return nullptr;
  }
  if (!on_complete) {
    error = "no completion handler";
    return nullptr;
  }
  std::optional<RequestWriter> writer = RequestWriter::create(settings, *endpoint, error);
  if (!writer) return nullptr;

  std::unique_ptr<boost::asio::ssl::context> tls;
  if (endpoint->tls) {
    tls = make_client_tls_context(settings, error);
    if (!tls) return nullptr;
    if (!settings.verify) {
      log::warn("http certificate verification is disabled", {{"endpoint", endpoint->origin}});
    }
  }
  return make_pooled_client(io, std::move(*endpoint), std::move(*writer), std::move(tls), settings,
                            std::move(on_complete));
}

}  // namespace sluice::http
