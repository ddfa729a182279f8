#include "config/config_files.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace sluice::config {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kKafkaFileProperties[] = {
    "ssl.ca.location",       "ssl.certificate.location", "ssl.key.location", "ssl.crl.location",
    "ssl.keystore.location", "ssl.engine.location",      "sasl.kerberos.keytab",
};

// librdkafka's ssl.ca.location also takes "probe" (search the system's usual places).
bool names_a_file(std::string_view name, const std::string& value) {
  return !value.empty() && !(name == "ssl.ca.location" && value == "probe");
}

void resolve_entries(StringMap& properties, std::string_view base_dir) {
  for (auto& [name, value] : properties) {
    if (is_kafka_file_property(name) && names_a_file(name, value)) value = resolve_path(base_dir, value);
  }
}

// "" when `path` can be opened for reading, else why not.
std::string unreadable_reason(const std::string& path) {
  if (access(path.c_str(), R_OK) == 0) return {};
  return std::strerror(errno);
}

void check_properties(std::string_view map_path, const StringMap& properties, std::vector<Problem>& problems) {
  for (const auto& [name, value] : properties) {
    if (!is_kafka_file_property(name) || !names_a_file(name, value)) continue;
    if (std::string reason = unreadable_reason(value); !reason.empty()) {
      problems.push_back({std::string(map_path) + "." + name, "cannot read " + value + ": " + reason});
    }
  }
}

}  // namespace

std::string directory_of(const std::string& config_path) {
  std::error_code error;
  fs::path absolute = fs::absolute(fs::path(config_path), error);
  if (error) absolute = fs::path(config_path);
  return absolute.lexically_normal().parent_path().string();
}

std::string resolve_path(std::string_view base_dir, const std::string& path) {
  if (path.empty() || base_dir.empty() || fs::path(path).is_absolute()) return path;
  return (fs::path(base_dir) / path).lexically_normal().string();
}

bool is_kafka_file_property(std::string_view name) {
  for (std::string_view known : kKafkaFileProperties) {
    if (name == known) return true;
  }
  return false;
}

void resolve_kafka_file_properties(KafkaConfig& kafka, std::string_view base_dir) {
  resolve_entries(kafka.properties, base_dir);
  resolve_entries(kafka.consumer_properties, base_dir);
  resolve_entries(kafka.producer_properties, base_dir);
}

void check_referenced_files(const Config& config, std::vector<Problem>& problems) {
  for (size_t i = 0; i < config.routes.size(); ++i) {
    const RouteConfig& route = config.routes[i];
    if (!route.http || route.http->ca_file.empty()) continue;
    if (std::string reason = unreadable_reason(route.http->ca_file); !reason.empty()) {
      problems.push_back({"routes[" + std::to_string(i) + "].http.tls.ca_file",
                          "cannot read " + route.http->ca_file + ": " + reason});
    }
  }
  check_properties("kafka.properties", config.kafka.properties, problems);
  check_properties("kafka.consumer_properties", config.kafka.consumer_properties, problems);
  check_properties("kafka.producer_properties", config.kafka.producer_properties, problems);
}

}  // namespace sluice::config
