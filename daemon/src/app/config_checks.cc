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
// inside the resource's own file (a schema or the sender list) when there is one. Returns the
// resources when all of them loaded, so that whoever asked for the check need not load them
// again.
std::shared_ptr<const stages::StageResources> check_stage_resources(const config::Config& config,
                                                                    std::vector<config::Problem>& problems) {
  auto add = [&problems](const std::string& key, std::vector<std::string>& errors) {
    for (const std::string& error : errors) {
      // "pipeline.filter.spam_keywords[2]: empty keyword" already names its key.
      size_t colon = error.find(": ");
      if (error.starts_with(key) && colon != std::string::npos) {
        problems.push_back({error.substr(0, colon), error.substr(colon + 2)});
      } else {
        problems.push_back({key, error});
      }
    }
    errors.clear();
  };
  std::vector<std::string> errors;
  stages::StageResources resources;
  resources.schemas = stages::load_schemas(config.pipeline, errors);
  add("pipeline.schemas_dir", errors);
  resources.blocked_senders = stages::load_blocked_senders(config.pipeline.filter, errors);
  add("pipeline.filter.blocked_senders_file", errors);
  resources.spam_keywords = stages::build_spam_keywords(config.pipeline.filter, errors);
  add("pipeline.filter.spam_keywords", errors);
  if (!resources.schemas || !resources.blocked_senders || !resources.spam_keywords) return nullptr;
  return std::make_shared<const stages::StageResources>(std::move(resources));
}

}  // namespace

CheckedConfig load_checked_config(const std::string& path, const config::EnvLookup& env) {
  CheckedConfig checked;
  config::LoadOptions options;
  options.checks = {kafka::check_client_properties, check_http_routes,
                    [&checked](const config::Config& config, std::vector<config::Problem>& problems) {
                      checked.resources = check_stage_resources(config, problems);
                    }};
  checked.loaded = path.empty() ? config::load_defaults(env, options) : config::load_file(path, env, options);
  if (!checked.loaded.ok()) checked.resources = nullptr;
  return checked;
}

}  // namespace sluice::app
