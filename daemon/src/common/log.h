#pragma once
// One line per event on stderr, JSON by default ({"ts":..,"level":..,"msg":..,<fields>}) or
// "ts level msg key=value ..." as text. `msg` is a fixed lowercase phrase; everything that
// varies goes into fields, so log lines can be grouped and counted.
//
// Thread-safe: librdkafka calls the logger from its own threads, so each line is written
// under one mutex with a single write().

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace sluice::log {

// Off writes nothing (as a minimum level only: for tests whose subject logs what they provoke).
enum class Level { Debug = 0, Info = 1, Warn = 2, Error = 3, Off = 4 };
enum class Format { Json, Text };

// A key and its already-rendered value. Strings are quoted (and escaped) in JSON; numbers
// and booleans are not.
class Field {
 public:
  Field(std::string_view key, std::string_view value) : key_(key), value_(value), quoted_(true) {}
  Field(std::string_view key, const char* value) : Field(key, std::string_view(value)) {}
  Field(std::string_view key, const std::string& value) : Field(key, std::string_view(value)) {}
  Field(std::string_view key, bool value) : key_(key), value_(value ? "true" : "false"), quoted_(false) {}
  template <typename T, std::enable_if_t<std::is_arithmetic_v<T> && !std::is_same_v<T, bool>, int> = 0>
  Field(std::string_view key, T value) : key_(key), value_(render(value)), quoted_(false) {}

  std::string_view key() const { return key_; }
  std::string_view value() const { return value_; }
  bool quoted() const { return quoted_; }

 private:
  template <typename T>
  static std::string render(T value) {
    if constexpr (std::is_floating_point_v<T>) {
      return render_double(static_cast<double>(value));
    } else {
      return std::to_string(value);
    }
  }
  static std::string render_double(double value);

  std::string_view key_;
  std::string value_;
  bool quoted_;
};

using Fields = std::initializer_list<Field>;

void configure(Format format, Level min_level);
Level min_level();
bool enabled(Level level);
Level parse_level(std::string_view text, bool* ok);

void write(Level level, std::string_view msg, Fields fields = {});
// For a field list built at run time (the keys must outlive the call).
void write(Level level, std::string_view msg, const std::vector<Field>& fields);

inline void debug(std::string_view msg, Fields fields = {}) {
  if (enabled(Level::Debug)) write(Level::Debug, msg, fields);
}
inline void info(std::string_view msg, Fields fields = {}) { write(Level::Info, msg, fields); }
inline void warn(std::string_view msg, Fields fields = {}) { write(Level::Warn, msg, fields); }
inline void error(std::string_view msg, Fields fields = {}) { write(Level::Error, msg, fields); }

}  // namespace sluice::log
