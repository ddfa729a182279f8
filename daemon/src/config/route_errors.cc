#include "config/route_errors.h"

#include <librdkafka/rdkafka.h>

#include <cctype>

namespace sluice::config {
namespace {

// "404" or "4xx": what an http route's errors are keyed by.
bool is_status_or_class(std::string_view name) {
  if (name.size() != 3 || name[0] < '1' || name[0] > '5') return false;
  auto digit = [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; };
  return (digit(name[1]) && digit(name[2])) || name.substr(1) == "xx";
}

}  // namespace

std::optional<int> kafka_error_by_name(std::string_view name) {
  const rd_kafka_err_desc* descriptions = nullptr;
  size_t count = 0;
  rd_kafka_get_err_descs(&descriptions, &count);
  for (size_t i = 0; i < count; ++i) {
    if (descriptions[i].name != nullptr && name == descriptions[i].name) return static_cast<int>(descriptions[i].code);
  }
  return std::nullopt;
}

void parse_route_errors(Config& config, std::vector<Problem>& problems) {
  for (size_t i = 0; i < config.routes.size(); ++i) {
    RouteConfig& route = config.routes[i];
    route.error_table = {};
    for (const auto& [name, written_class] : route.errors) {
      std::string path = "routes[" + std::to_string(i) + "].errors." + name;
      std::optional<ErrorClass> error_class;
      if (written_class == "bad_data") error_class = ErrorClass::BadData;
      if (written_class == "transient") error_class = ErrorClass::Transient;
      if (!error_class) problems.push_back({path, "\"" + written_class + "\" is not one of: bad_data, transient"});
      if (route.http) {
        if (!is_status_or_class(name)) {
          problems.push_back({path, "an http route's errors are HTTP statuses such as 404 or 4xx"});
        } else if (error_class) {
          route.error_table.http[name] = *error_class;
        }
        continue;
      }
      std::optional<int> code = kafka_error_by_name(name);
      if (!code) {
        problems.push_back({path, "\"" + name + "\" is not a librdkafka error name (e.g. TOPIC_AUTHORIZATION_FAILED, "
                                  "MSG_SIZE_TOO_LARGE)"});
      } else if (error_class) {
        route.error_table.kafka[*code] = *error_class;
      }
    }
  }
}

}  // namespace sluice::config
