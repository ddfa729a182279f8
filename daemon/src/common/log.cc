#include "common/log.h"

#include "common/text.h"

#include <unistd.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <mutex>

namespace sluice::log {
namespace {

std::atomic<int> g_min_level{static_cast<int>(Level::Info)};
std::atomic<Format> g_format{Format::Json};
std::mutex g_write_mutex;

const char* level_name(Level level) {
  switch (level) {
    case Level::Debug: return "debug";
    case Level::Info: return "info";
    case Level::Warn: return "warn";
    case Level::Error: return "error";
    case Level::Off: break;
  }
  return "info";
}

void append_timestamp(std::string& out) { out += text::format_rfc3339_utc(std::chrono::system_clock::now()); }

}  // namespace

std::string Field::render_double(double value) {
  char buf[64];
  auto result = std::to_chars(buf, buf + sizeof buf, value);
  return std::string(buf, result.ptr);
}

void configure(Format format, Level min) {
  g_format.store(format);
  g_min_level.store(static_cast<int>(min));
}

Level min_level() { return static_cast<Level>(g_min_level.load()); }

bool enabled(Level level) { return static_cast<int>(level) >= g_min_level.load(std::memory_order_relaxed); }

Level parse_level(std::string_view text, bool* ok) {
  *ok = true;
  if (text == "debug") return Level::Debug;
  if (text == "info") return Level::Info;
  if (text == "warn") return Level::Warn;
  if (text == "error") return Level::Error;
  *ok = false;
  return Level::Info;
}

void write(Level level, std::string_view msg, Fields fields) { write(level, msg, std::vector<Field>(fields)); }

void write(Level level, std::string_view msg, const std::vector<Field>& fields) {
  if (!enabled(level)) return;
  std::string line;
  line.reserve(160);
  if (g_format.load(std::memory_order_relaxed) == Format::Json) {
    line += "{\"ts\":\"";
    append_timestamp(line);
    line += "\",\"level\":\"";
    line += level_name(level);
    line += "\",\"msg\":\"";
    text::append_json_escaped(line, msg);
    line += '"';
    for (const Field& field : fields) {
      line += ",\"";
      text::append_json_escaped(line, field.key());
      line += "\":";
      if (field.quoted()) line += '"';
      text::append_json_escaped(line, field.value());
      if (field.quoted()) line += '"';
    }
    line += "}\n";
  } else {
    append_timestamp(line);
    line += ' ';
    line += level_name(level);
    line += ' ';
    line += msg;
    for (const Field& field : fields) {
      line += ' ';
      line += field.key();
      line += '=';
      bool needs_quotes = field.value().empty() || field.value().find_first_of(" \"=") != std::string_view::npos;
      if (needs_quotes) line += '"';
      text::append_json_escaped(line, field.value());
      if (needs_quotes) line += '"';
    }
    line += '\n';
  }
  std::lock_guard<std::mutex> lock(g_write_mutex);
  size_t written = 0;
  while (written < line.size()) {
    ssize_t n = ::write(STDERR_FILENO, line.data() + written, line.size() - written);
    if (n <= 0) break;  // stderr closed: nothing sensible left to do with a log line
    written += static_cast<size_t>(n);
  }
}

}  // namespace sluice::log
