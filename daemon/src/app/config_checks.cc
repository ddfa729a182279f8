#include "app/config_checks.h"

#include <unistd.h>

#include <boost/asio/ssl/context.hpp>

#include <vector>

#include "http/http_client.h"
#include "http/tls_context.h"
#include "http/url.h"
#include "kafka/property_check.h"
#include "stages/stage_chain.h"

namespace sluice::app {
namespace {

// What HttpSink::create would refuse when the engine starts: a URL the client cannot use
// (credentials in it, no host, a bad port), a CA file without a usable certificate.
void check_http_routes(const config::Config& config, std::vector<config::Problem>& problems) {
  for (size_t i = 0; i < config.routes.size(); ++i) {
    const config::RouteConfig& route = config.routes[i];
    if (!route.http) continue;
    const std::string path = "routes[" + std::to_string(i) + "].http";
    std::string error;
    // A URL without http:// or https:// is already reported by the loader.
    bool has_scheme = route.http->url.starts_with("http://") || route.http->url.starts_with("https://");
    if (has_scheme && !http::parse_url(route.http->url, error)) problems.push_back({path + ".url", error});
    // An unreadable file is already reported by the loader (config_files.h).
    if (route.http->ca_file.empty() || access(route.http->ca_file.c_str(), R_OK) != 0) continue;
    http::ClientSettings settings;
    settings.ca_file = route.http->ca_file;
    settings.verify = route.http->verify;
    if (!http::make_client_tls_context(settings, error)) problems.push_back({path + ".tls.ca_file", error});
  }
}

// Each stage resource's errors go to the key that names it; their text keeps the position
// inside the resource's own file (a schema or the sender list) when there is one.
void check_stage_resources(const config::Config& config, std::vector<config::Problem>& problems) {
  auto add = [&problems](const std::string& key, const std::vector<std::string>& errors) {
    for (const std::string& error : errors) {
      // "pipeline.filter.spam_keywords[2]: empty keyword" already names its key.
      size_t colon = error.find(": ");
      if (error.starts_with(key) && colon != std::string::npos) {
        problems.push_back({error.substr(0, colon), error.substr(colon + 2)});
      } else {
        problems.push_back({key, error});
      }
    }
  };
  std::vector<std::string> errors;
  stages::load_schemas(config.pipeline, errors);
  add("pipeline.schemas_dir", errors);
  errors.clear();
  stages::load_blocked_senders(config.pipeline.filter, errors);
  add("pipeline.filter.blocked_senders_file", errors);
  errors.clear();
  stages::build_spam_keywords(config.pipeline.filter, errors);
  add("pipeline.filter.spam_keywords", errors);
}

}  // namespace

config::LoadOptions checked_load_options() {
  config::LoadOptions options;
  options.checks = {kafka::check_client_properties, check_http_routes, check_stage_resources};
  return options;
}

config::LoadResult load_checked_config(const std::string& path, const config::EnvLookup& env) {
  config::LoadOptions options = checked_load_options();
  return path.empty() ? config::load_defaults(env, options) : config::load_file(path, env, options);
}

}  // namespace sluice::app
