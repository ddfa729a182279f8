#pragma once
// The building blocks of the key table's rows (key_table.cc): bindings that store a loaded
// value into its Config field and read it back, for plain fields, fields of a route, of a
// route's HTTP settings, and enums by their spelling. Included by key_table.cc only.

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/assert.h"
#include "config/key_table.h"

namespace sluice::config::bindings {

constexpr int64_t ms(Duration duration) { return duration.count(); }

template <typename T>
T take(Value&& value) {
  SLUICE_ASSERT(std::holds_alternative<T>(value), "key table binding does not match the type of its row");
  return std::get<T>(std::move(value));
}

// Binds the field that `access(config, item)` returns a reference to. `access` is generic so
// the same lambda serves the store (Config&) and the read (const Config&).
template <typename Access>
Binding bind_at(Access access) {
  using Field = std::remove_cvref_t<decltype(access(std::declval<Config&>(), size_t{0}))>;
  Binding binding;
  if constexpr (std::is_same_v<Field, std::optional<std::string>>) {
    binding.store = [access](Config& config, size_t item, Value&& value) {
      access(config, item) = take<std::string>(std::move(value));
    };
    binding.read = [access](const Config& config, size_t item) -> Value {
      const std::optional<std::string>& field = access(config, item);
      return field ? Value(*field) : Value();
    };
  } else {
    binding.store = [access](Config& config, size_t item, Value&& value) {
      access(config, item) = take<Field>(std::move(value));
    };
    binding.read = [access](const Config& config, size_t item) -> Value { return Value(access(config, item)); };
  }
  return binding;
}

// A field outside any list: `access(config)`.
template <typename Access>
Binding field(Access access) {
  return bind_at([access](auto& config, size_t) -> auto& { return access(config); });
}

// A field of one route: `access(config.routes[item])`.
template <typename Access>
Binding route_field(Access access) {
  return bind_at([access](auto& config, size_t item) -> auto& {
    SLUICE_ASSERT(item < config.routes.size(), "route index past the routes read so far");
    return access(config.routes[item]);
  });
}

// A field of an optional object of one route (`Member`): storing any of its keys makes the
// object exist; reading it from a route without the object finds nothing.
template <auto Member, typename Access>
Binding optional_route_object_field(Access access) {
  using Object = typename std::remove_cvref_t<decltype(std::declval<RouteConfig&>().*Member)>::value_type;
  using Field = std::remove_cvref_t<decltype(access(std::declval<Object&>()))>;
  Binding binding;
  binding.store = [access](Config& config, size_t item, Value&& value) {
    SLUICE_ASSERT(item < config.routes.size(), "route index past the routes read so far");
    std::optional<Object>& object = config.routes[item].*Member;
    if (!object) object.emplace();
    access(*object) = take<Field>(std::move(value));
  };
  binding.read = [access](const Config& config, size_t item) -> Value {
    const std::optional<Object>& object = config.routes[item].*Member;
    return object ? Value(access(*object)) : Value();
  };
  return binding;
}

// A field of one route's `http` object, which exists only on HTTP routes: storing any of its
// keys makes the route an HTTP route.
template <typename Access>
Binding http_field(Access access) {
  return optional_route_object_field<&RouteConfig::http>(access);
}

// A field of one HTTP route's `batch` object (`http.batch`): storing any of its keys makes the
// batch exist; reading it from a route without one finds nothing.
template <typename Access>
Binding http_batch_field(Access access) {
  using Field = std::remove_cvref_t<decltype(access(std::declval<HttpBatchConfig&>()))>;
  Binding binding;
  binding.store = [access](Config& config, size_t item, Value&& value) {
    SLUICE_ASSERT(item < config.routes.size(), "route index past the routes read so far");
    std::optional<HttpRouteConfig>& http = config.routes[item].http;
    if (!http) http.emplace();
    if (!http->batch) http->batch.emplace();
    access(*http->batch) = take<Field>(std::move(value));
  };
  binding.read = [access](const Config& config, size_t item) -> Value {
    const std::optional<HttpRouteConfig>& http = config.routes[item].http;
    return http && http->batch ? Value(access(*http->batch)) : Value();
  };
  return binding;
}

// A field of one route's `rate_limit` object.
template <typename Access>
Binding rate_limit_field(Access access) {
  return optional_route_object_field<&RouteConfig::rate_limit>(access);
}

template <typename E>
using EnumSpelling = std::pair<std::string_view, E>;

template <typename E, size_t N>
std::vector<std::string> spellings(const EnumSpelling<E> (&names)[N]) {
  std::vector<std::string> out;
  for (const auto& [spelling, value] : names) out.emplace_back(spelling);
  return out;
}

// An enum class field stored from, and read back as, its spelling in `names`.
template <typename E, size_t N, typename Access>
Binding enum_field(const EnumSpelling<E> (&names)[N], Access access) {
  Binding binding;
  binding.store = [&names, access](Config& config, size_t, Value&& value) {
    std::string spelling = take<std::string>(std::move(value));
    for (const auto& [name, enum_value] : names) {
      if (name == spelling) {
        access(config) = enum_value;
        return;
      }
    }
    SLUICE_ASSERT(false, "enum spelling passed the loader's check but has no value");
  };
  binding.read = [&names, access](const Config& config, size_t) -> Value {
    for (const auto& [name, enum_value] : names) {
      if (access(config) == enum_value) return Value(std::string(name));
    }
    SLUICE_ASSERT(false, "enum value without a spelling in the key table");
    return Value();
  };
  return binding;
}

// An enum class field of one route, stored from and read back as its spelling.
template <typename E, size_t N, typename Access>
Binding enum_route_field(const EnumSpelling<E> (&names)[N], Access access) {
  Binding binding;
  binding.store = [&names, access](Config& config, size_t item, Value&& value) {
    std::string spelling = take<std::string>(std::move(value));
    for (const auto& [name, enum_value] : names) {
      if (name == spelling) access(config.routes[item]) = enum_value;
    }
  };
  binding.read = [&names, access](const Config& config, size_t item) -> Value {
    for (const auto& [name, enum_value] : names) {
      if (access(config.routes[item]) == enum_value) return Value(std::string(name));
    }
    return Value();
  };
  return binding;
}

inline Binding routes_list() {
  Binding binding;
  binding.append_item = [](Config& config, int line) {
    config.routes.emplace_back();
    config.routes.back().line = line;
    return config.routes.size() - 1;
  };
  binding.item_count = [](const Config& config) { return config.routes.size(); };
  return binding;
}

// Appends the rows of `routes` and its entries' keys (key_table_routes.cc).
void add_route_rows(KeyTable& rows);

}  // namespace sluice::config::bindings
