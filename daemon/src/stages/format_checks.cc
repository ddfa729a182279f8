#include "stages/format_checks.h"

#include <cstddef>

namespace sluice::stages {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// Reads exactly `count` digits at `pos`; advances `pos` on success.
bool read_number(std::string_view text, size_t& pos, size_t count, int& value) {
  if (text.size() - pos < count) return false;
  int result = 0;
  for (size_t i = 0; i < count; ++i) {
    char c = text[pos + i];
    if (!is_digit(c)) return false;
    result = result * 10 + (c - '0');
  }
  pos += count;
  value = result;
  return true;
}

bool read_char(std::string_view text, size_t& pos, char expected) {
  if (pos >= text.size() || text[pos] != expected) return false;
  ++pos;
  return true;
}

bool is_leap_year(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int days_in_month(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap_year(year) ? 29 : kDays[month - 1];
}

bool read_full_date(std::string_view text, size_t& pos) {
  int year = 0;
  int month = 0;
  int day = 0;
  if (!read_number(text, pos, 4, year) || !read_char(text, pos, '-') || !read_number(text, pos, 2, month) ||
      !read_char(text, pos, '-') || !read_number(text, pos, 2, day)) {
    return false;
  }
  return month >= 1 && month <= 12 && day >= 1 && day <= days_in_month(year, month);
}

// partial-time [fraction] offset, to the end of `text`.
bool read_full_time(std::string_view text, size_t& pos) {
  int hour = 0;
  int minute = 0;
  int second = 0;
  if (!read_number(text, pos, 2, hour) || !read_char(text, pos, ':') || !read_number(text, pos, 2, minute) ||
      !read_char(text, pos, ':') || !read_number(text, pos, 2, second)) {
    return false;
  }
  if (hour > 23 || minute > 59 || second > 60) return false;
  if (pos < text.size() && text[pos] == '.') {
    size_t first_digit = ++pos;
    while (pos < text.size() && is_digit(text[pos])) ++pos;
    if (pos == first_digit) return false;
  }
  if (pos >= text.size()) return false;
  int offset_minutes = 0;
  char zone = text[pos];
  if (zone == 'Z' || zone == 'z') {
    ++pos;
  } else if (zone == '+' || zone == '-') {
    ++pos;
    int offset_hour = 0;
    int offset_minute = 0;
    if (!read_number(text, pos, 2, offset_hour) || !read_char(text, pos, ':') ||
        !read_number(text, pos, 2, offset_minute) || offset_hour > 23 || offset_minute > 59) {
      return false;
    }
    offset_minutes = (zone == '+' ? 1 : -1) * (offset_hour * 60 + offset_minute);
  } else {
    return false;
  }
  if (pos != text.size()) return false;
  if (second == 60) {
    // Leap seconds are inserted at the end of a UTC day only.
    int utc_minute_of_day = ((hour * 60 + minute - offset_minutes) % 1440 + 1440) % 1440;
    if (utc_minute_of_day != 23 * 60 + 59) return false;
  }
  return true;
}

bool is_atext(char c) {
  if (is_alpha(c) || is_digit(c)) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-':
    case '/': case '=': case '?': case '^': case '_': case '`': case '{': case '|': case '}': case '~':
      return true;
    default:
      return false;
  }
}

bool is_dot_atom(std::string_view text) {
  if (text.empty() || text.front() == '.' || text.back() == '.') return false;
  char previous = 0;
  for (char c : text) {
    if (c == '.') {
      if (previous == '.') return false;
    } else if (!is_atext(c)) {
      return false;
    }
    previous = c;
  }
  return true;
}

bool is_hostname(std::string_view domain) {
  constexpr size_t kMaxDomain = 253;
  constexpr size_t kMaxLabel = 63;
  if (domain.empty() || domain.size() > kMaxDomain) return false;
  size_t labels = 0;
  size_t start = 0;
  while (true) {
    size_t end = domain.find('.', start);
    std::string_view label = domain.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (label.empty() || label.size() > kMaxLabel || label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      if (!is_alpha(c) && !is_digit(c) && c != '-') return false;
    }
    ++labels;
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return labels >= 2;
}

}  // namespace

std::optional<Format> parse_format_name(std::string_view name) {
  if (name == "date-time") return Format::DateTime;
  if (name == "date") return Format::Date;
  if (name == "time") return Format::Time;
  if (name == "email") return Format::Email;
  if (name == "uuid") return Format::Uuid;
  if (name == "ipv4") return Format::Ipv4;
  return std::nullopt;
}

std::string_view format_name(Format format) {
  switch (format) {
    case Format::DateTime: return "date-time";
    case Format::Date: return "date";
    case Format::Time: return "time";
    case Format::Email: return "email";
    case Format::Uuid: return "uuid";
    case Format::Ipv4: return "ipv4";
  }
  return "unknown";
}

bool matches_format(Format format, std::string_view text) {
  switch (format) {
    case Format::DateTime: return is_valid_date_time(text);
    case Format::Date: return is_valid_date(text);
    case Format::Time: return is_valid_time(text);
    case Format::Email: return is_valid_email(text);
    case Format::Uuid: return is_valid_uuid(text);
    case Format::Ipv4: return is_valid_ipv4(text);
  }
  return true;
}

bool is_valid_date_time(std::string_view text) {
  size_t pos = 0;
  if (!read_full_date(text, pos)) return false;
  if (pos >= text.size() || (text[pos] != 'T' && text[pos] != 't')) return false;
  ++pos;
  return read_full_time(text, pos);
}

bool is_valid_date(std::string_view text) {
  size_t pos = 0;
  return read_full_date(text, pos) && pos == text.size();
}

bool is_valid_time(std::string_view text) {
  size_t pos = 0;
  return read_full_time(text, pos);
}

bool is_valid_email(std::string_view text) {
  constexpr size_t kMaxAddress = 254;
  constexpr size_t kMaxLocalPart = 64;
  if (text.size() > kMaxAddress) return false;
  size_t at = text.find('@');
  if (at == std::string_view::npos || text.find('@', at + 1) != std::string_view::npos) return false;
  std::string_view local = text.substr(0, at);
  std::string_view domain = text.substr(at + 1);
  if (local.size() > kMaxLocalPart || !is_dot_atom(local)) return false;
  if (domain.size() >= 2 && domain.front() == '[' && domain.back() == ']') {
    return is_valid_ipv4(domain.substr(1, domain.size() - 2));
  }
  return is_hostname(domain);
}

bool is_valid_uuid(std::string_view text) {
  if (text.size() != 36) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    bool dash_position = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash_position ? text[i] != '-' : !is_hex(text[i])) return false;
  }
  return true;
}

bool is_valid_ipv4(std::string_view text) {
  size_t pos = 0;
  for (int part = 0; part < 4; ++part) {
    if (part > 0 && !read_char(text, pos, '.')) return false;
    size_t start = pos;
    int value = 0;
    while (pos < text.size() && is_digit(text[pos]) && pos - start < 3) {
      value = value * 10 + (text[pos] - '0');
      ++pos;
    }
    size_t digits = pos - start;
    if (digits == 0 || value > 255 || (digits > 1 && text[start] == '0')) return false;
  }
  return pos == text.size();
}

}  // namespace sluice::stages
