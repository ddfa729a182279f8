#include "common/text.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cstring>

namespace sluice::text {

namespace {
// Tests on eight bytes at a time. Record values are mostly ASCII JSON, and a DLQ record's
// value is scanned twice byte by byte otherwise (once to validate, once to escape).
constexpr uint64_t kEachByte = 0x0101010101010101ull;
constexpr uint64_t kHighBits = 0x8080808080808080ull;

uint64_t load_word(const unsigned char* at) {
  uint64_t word;
  std::memcpy(&word, at, sizeof word);
  return word;
}
// Non-zero when some byte of `word` below 0x80 is also below `limit` (limit <= 0x80). A
// borrow can mark a byte above a matching one as well, so only "none" versus "some" counts.
uint64_t any_byte_below(uint64_t word, unsigned limit) { return (word - kEachByte * limit) & ~word & kHighBits; }
uint64_t any_byte_equal(uint64_t word, unsigned char value) { return any_byte_below(word ^ (kEachByte * value), 1); }
// Non-zero when some byte needs more than copying inside a JSON string: a control
// character, '"', '\\', DEL, or a byte of a multi-byte sequence (checked for validity).
uint64_t any_byte_to_escape(uint64_t word) {
  return any_byte_below(word, 0x20) | any_byte_equal(word, '"') | any_byte_equal(word, '\\') |
         any_byte_equal(word, 0x7f) | (word & kHighBits);
}
}  // namespace

bool is_valid_utf8(std::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const auto* end = p + bytes.size();
  while (p < end) {
    if (end - p >= 8 && (load_word(p) & kHighBits) == 0) {
      p += 8;  // eight ASCII bytes
      continue;
    }
    unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    size_t n;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      n = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (static_cast<size_t>(end - p) < n) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((p[k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[k] & 0x3F);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000)) return false;
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    p += n;
  }
  return true;
}

namespace {
constexpr char kBase64Alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}
}  // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  auto byte = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(bytes[k])); };
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out += kBase64Alphabet[(v >> 18) & 63];
    out += kBase64Alphabet[(v >> 12) & 63];
    out += kBase64Alphabet[(v >> 6) & 63];
    out += kBase64Alphabet[v & 63];
  }
  size_t rest = bytes.size() - i;
  if (rest == 1) {
    uint32_t v = byte(i) << 16;
    out += kBase64Alphabet[(v >> 18) & 63];
    out += kBase64Alphabet[(v >> 12) & 63];
    out += "==";
  } else if (rest == 2) {
    uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8);
    out += kBase64Alphabet[(v >> 18) & 63];
    out += kBase64Alphabet[(v >> 12) & 63];
    out += kBase64Alphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    int v[4];
    int padding = 0;
    for (int k = 0; k < 4; ++k) {
      char c = text[i + k];
      if (c == '=' && i + 4 == text.size() && k >= 2) {
        v[k] = 0;
        ++padding;
      } else if (padding > 0) {
        return std::nullopt;
      } else {
        v[k] = base64_value(c);
        if (v[k] < 0) return std::nullopt;
      }
    }
    uint32_t word = (static_cast<uint32_t>(v[0]) << 18) | (static_cast<uint32_t>(v[1]) << 12) |
                    (static_cast<uint32_t>(v[2]) << 6) | static_cast<uint32_t>(v[3]);
    out += static_cast<char>((word >> 16) & 0xFF);
    if (padding < 2) out += static_cast<char>((word >> 8) & 0xFF);
    if (padding < 1) out += static_cast<char>(word & 0xFF);
  }
  return out;
}

namespace {
// Length of the valid UTF-8 sequence starting at text[i], or 0 when it is not valid.
size_t utf8_sequence_length(std::string_view text, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char c = byte(i);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > text.size()) return 0;
  return is_valid_utf8(text.substr(i, n)) ? n : 0;
}
}  // namespace

void append_json_escaped(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  // Written through a pointer into room made beforehand rather than appended piece by piece:
  // a JSON value embedded in a DLQ envelope has a quote every few bytes, and an append per
  // quote was most of the cost. The room is for the text plus some escapes; more is made
  // when an escape would not fit (six bytes is the longest, \u00XX or \ufffd).
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  size_t written = out.size();
  out.resize(written + text.size() + text.size() / 8 + 16);
  char* base = out.data();
  size_t limit = out.size();
  auto make_room = [&](size_t need) {
    if (limit - written >= need) return;
    out.resize(std::max(limit * 2, written + need));
    base = out.data();
    limit = out.size();
  };
  for (size_t i = 0; i < text.size();) {
    if (text.size() - i >= 8) {
      const uint64_t word = load_word(bytes + i);
      const uint64_t to_escape = any_byte_to_escape(word);
      // The bytes before the first one to escape are copied as they are. The lowest flag is
      // exact (a false flag only ever sits above a true one); the first byte is the lowest
      // in memory on a little-endian machine.
      size_t plain = 8;
      if (to_escape != 0) plain = std::endian::native == std::endian::little ? std::countr_zero(to_escape) / 8 : 0;
      make_room(8);
      std::memcpy(base + written, &word, 8);  // the bytes past `plain` are overwritten below
      written += plain;
      i += plain;
      if (plain == 8) continue;
    }
    const unsigned char c = bytes[i];
    make_room(6);
    if (c >= 0x20 && c < 0x7f) {
      if (c == '"' || c == '\\') base[written++] = '\\';
      base[written++] = static_cast<char>(c);
      ++i;
      continue;
    }
    if (c >= 0x80) {
      if (size_t n = utf8_sequence_length(text, i); n != 0) {
        std::memcpy(base + written, bytes + i, n);  // valid UTF-8 passes unchanged (n <= 4)
        written += n;
        i += n;
        continue;
      }
    }
    const char* escape = nullptr;
    switch (c) {
      case '\n': escape = "\\n"; break;
      case '\r': escape = "\\r"; break;
      case '\t': escape = "\\t"; break;
      default: break;
    }
    if (escape != nullptr) {
      std::memcpy(base + written, escape, 2);
      written += 2;
    } else if (c >= 0x80) {
      std::memcpy(base + written, "\\ufffd", 6);  // not valid UTF-8
      written += 6;
    } else {
      std::memcpy(base + written, "\\u00", 4);
      base[written + 4] = kHex[c >> 4];
      base[written + 5] = kHex[c & 0xF];
      written += 6;
    }
    ++i;
  }
  out.resize(written);
}

void assign_hex(const unsigned char* bytes, size_t size, std::string& out) {
  static constexpr char kDigits[] = "0123456789abcdef";
  out.resize(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 0xF];
  }
}

std::string to_hex(const unsigned char* bytes, size_t size) {
  std::string out;
  assign_hex(bytes, size, out);
  return out;
}

std::string ascii_lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

std::string_view trim(std::string_view text) {
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  // Largest unit first, each at most once: "30m1h" and "1s1s" are typos far more often than
  // deliberate sums, and reading them as 90m or 2s would hide the mistake.
  struct Unit {
    std::string_view suffix;
    int64_t ms;
  };
  static constexpr Unit kUnits[] = {{"d", 86'400'000}, {"h", 3'600'000}, {"ms", 1}, {"m", 60'000}, {"s", 1000}};
  text = trim(text);
  if (text.empty()) return std::nullopt;
  if (text == "0") return std::chrono::milliseconds(0);
  int64_t total = 0;
  int64_t previous_unit_ms = INT64_MAX;
  while (!text.empty()) {
    int64_t amount = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), amount);
    if (ec != std::errc() || ptr == text.data() || amount < 0) return std::nullopt;
    text.remove_prefix(static_cast<size_t>(ptr - text.data()));
    const Unit* unit = nullptr;
    for (const Unit& candidate : kUnits) {  // "ms" is tried before "m"
      if (text.starts_with(candidate.suffix)) {
        unit = &candidate;
        break;
      }
    }
    if (unit == nullptr || unit->ms >= previous_unit_ms) return std::nullopt;
    text.remove_prefix(unit->suffix.size());
    previous_unit_ms = unit->ms;
    if (amount > (INT64_MAX / 2) / unit->ms) return std::nullopt;
    total += amount * unit->ms;
    if (total > INT64_MAX / 2) return std::nullopt;
  }
  return std::chrono::milliseconds(total);
}

std::string format_duration(std::chrono::milliseconds duration) {
  int64_t ms = duration.count();
  if (ms == 0) return "0s";
  struct Unit {
    int64_t ms;
    const char* suffix;
  };
  static constexpr Unit kUnits[] = {{86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1000, "s"}, {1, "ms"}};
  for (const Unit& unit : kUnits) {
    if (ms % unit.ms == 0) return std::to_string(ms / unit.ms) + unit.suffix;
  }
  return std::to_string(ms) + "ms";
}

std::optional<int64_t> parse_int(std::string_view text) {
  text = trim(text);
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  int64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

int64_t epoch_ms(std::chrono::system_clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

namespace {
// Writes `value` as exactly `width` decimal digits (zero-padded; value < 10^width).
void put_digits(char* at, int64_t value, int width) {
  for (int i = width - 1; i >= 0; --i) {
    at[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
}
}  // namespace

std::string format_rfc3339_utc(std::chrono::system_clock::time_point time) {
  using namespace std::chrono;
  // Calendar arithmetic rather than gmtime_r and snprintf: every DLQ record is stamped with
  // this, and those two calls were a third of the cost of building its envelope.
  const int64_t ms = epoch_ms(time);
  const sys_days day = floor<days>(sys_time<milliseconds>(milliseconds(ms)));
  const year_month_day date(day);
  const int year = static_cast<int>(date.year());
  int64_t in_day = ms - duration_cast<milliseconds>(day.time_since_epoch()).count();
  char tail[] = "-00-00T00:00:00.000Z";
  put_digits(tail + 1, static_cast<unsigned>(date.month()), 2);
  put_digits(tail + 4, static_cast<unsigned>(date.day()), 2);
  put_digits(tail + 16, in_day % 1000, 3);
  in_day /= 1000;
  put_digits(tail + 13, in_day % 60, 2);
  in_day /= 60;
  put_digits(tail + 10, in_day % 60, 2);
  put_digits(tail + 7, in_day / 60, 2);
  std::string out;
  if (year >= 0 && year <= 9999) {
    out.resize(4);
    put_digits(out.data(), year, 4);
  } else {  // outside RFC 3339's four-digit years: not for stamping the present
    out = std::to_string(year);
  }
  out.append(tail, sizeof tail - 1);
  return out;
}

namespace {
bool read_digits(std::string_view& text, size_t count, int& value) {
  if (text.size() < count) return false;
  value = 0;
  for (size_t i = 0; i < count; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    value = value * 10 + (text[i] - '0');
  }
  text.remove_prefix(count);
  return true;
}
bool expect(std::string_view& text, char c) {
  if (text.empty() || text.front() != c) return false;
  text.remove_prefix(1);
  return true;
}
int days_in_month(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}
// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}
}  // namespace

std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text) {
  int year, month, day, hour, minute, second;
  if (!read_digits(text, 4, year) || !expect(text, '-') || !read_digits(text, 2, month) || !expect(text, '-') ||
      !read_digits(text, 2, day)) {
    return std::nullopt;
  }
  if (text.empty() || (text.front() != 'T' && text.front() != 't' && text.front() != ' ')) return std::nullopt;
  text.remove_prefix(1);
  if (!read_digits(text, 2, hour) || !expect(text, ':') || !read_digits(text, 2, minute) || !expect(text, ':') ||
      !read_digits(text, 2, second)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 || minute > 59 ||
      second > 60) {
    return std::nullopt;
  }
  int64_t fraction_ms = 0;
  if (!text.empty() && text.front() == '.') {
    text.remove_prefix(1);
    size_t digits = 0;
    int64_t scale = 100;
    while (!text.empty() && text.front() >= '0' && text.front() <= '9') {
      fraction_ms += (text.front() - '0') * scale;
      scale /= 10;
      text.remove_prefix(1);
      ++digits;
    }
    if (digits == 0) return std::nullopt;
  }
  int64_t offset_minutes = 0;
  if (text == "Z" || text == "z") {
    text.remove_prefix(1);
  } else if (!text.empty() && (text.front() == '+' || text.front() == '-')) {
    int sign = text.front() == '-' ? -1 : 1;
    text.remove_prefix(1);
    int oh, om;
    if (!read_digits(text, 2, oh) || !expect(text, ':') || !read_digits(text, 2, om) || oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset_minutes = sign * (oh * 60 + om);
  } else {
    return std::nullopt;
  }
  if (!text.empty()) return std::nullopt;
  int64_t days = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  int64_t secs = days * 86400 + hour * 3600 + minute * 60 + (second == 60 ? 59 : second) - offset_minutes * 60;
  return std::chrono::system_clock::time_point(std::chrono::milliseconds(secs * 1000 + fraction_ms));
}

}  // namespace sluice::text
