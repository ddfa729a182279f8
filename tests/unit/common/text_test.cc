#include "common/text.h"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

namespace sluice::text {
namespace {

std::string escaped(std::string_view text) {
  std::string out = "prefix:";  // appends, keeping what is there
  append_json_escaped(out, text);
  return out.substr(7);
}

// The escaping spelled out one byte at a time, to compare the run-copying version with.
std::string escaped_bytewise(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      // The longest prefix from i that is one valid sequence, if any.
      size_t length = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
      if (length != 0 && i + length <= text.size() && is_valid_utf8(text.substr(i, length))) {
        out.append(text.substr(i, length));
        i += length;
      } else {
        out += "\\ufffd";
        ++i;
      }
      continue;
    }
    if (c == '"') {
      out += "\\\"";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    } else {
      out += static_cast<char>(c);
    }
    ++i;
  }
  return out;
}

TEST_CASE("JSON escaping keeps plain text and valid UTF-8, escapes the rest", "[common][text]") {
  CHECK(escaped("") == "");
  CHECK(escaped("hello, world") == "hello, world");
  CHECK(escaped("say \"hi\"") == "say \\\"hi\\\"");
  CHECK(escaped("back\\slash") == "back\\\\slash");
  CHECK(escaped("a\nb\rc\td") == "a\\nb\\rc\\td");
  CHECK(escaped(std::string_view("\x00\x1f\x7f", 3)) == "\\u0000\\u001f\\u007f");
  CHECK(escaped("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80") == "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  CHECK(escaped("bad \xff byte") == "bad \\ufffd byte");
  CHECK(escaped("cut \xe2\x82") == "cut \\ufffd\\ufffd");
  CHECK(escaped("\"") == "\\\"");
  CHECK(escaped("end\"") == "end\\\"");
}

TEST_CASE("JSON escaping matches the byte-at-a-time definition on random input", "[common][text]") {
  std::mt19937 random(20261127);
  // Bytes drawn mostly from the interesting ones, so runs are short and escapes frequent.
  const std::string alphabet = std::string("ab \"\\\n\t\x01\x7f", 10) + "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xff\x80";
  // Every other round mostly plain letters, so that words of eight bytes pass whole, with an
  // escape at any position of a word.
  const std::string plain_mostly = alphabet + std::string(60, 'p');
  for (int round = 0; round < 20000; ++round) {
    const std::string& from = round % 2 == 0 ? alphabet : plain_mostly;
    std::string input;
    const size_t length = random() % (round % 2 == 0 ? 24 : 80);
    for (size_t i = 0; i < length; ++i) input += from[random() % from.size()];
    INFO("round " << round);
    REQUIRE(escaped(input) == escaped_bytewise(input));
  }
}

TEST_CASE("UTF-8 validity does not depend on where ASCII runs fall", "[common][text]") {
  // Whole sequences, valid or not: with ASCII of any length between them, a text is valid
  // exactly when it has no invalid piece.
  const std::vector<std::string> valid = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf"};
  const std::vector<std::string> invalid = {"\xff", "\x80", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf8"};
  std::mt19937 random(7);
  for (int round = 0; round < 20000; ++round) {
    std::string input;
    bool expected = true;
    const int pieces = static_cast<int>(random() % 5);
    for (int piece = 0; piece < pieces; ++piece) {
      input += std::string(random() % 20, 'a');
      if (random() % 4 == 0) {
        input += invalid[random() % invalid.size()];
        expected = false;
      } else {
        input += valid[random() % valid.size()];
      }
    }
    input += std::string(random() % 20, 'z');
    INFO("round " << round);
    REQUIRE(is_valid_utf8(input) == expected);
  }
  // A sequence cut short at the end of the text, after a long ASCII run.
  CHECK_FALSE(is_valid_utf8(std::string(16, 'a') + "\xe2\x82"));
}

}  // namespace
}  // namespace sluice::text

namespace sluice::text {
namespace {

// The C library's answer, to compare the calendar arithmetic with.
std::string rfc3339_by_libc(int64_t ms) {
  int64_t seconds = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  auto time = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&time, &tm);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms - seconds * 1000));
  return buffer;
}

std::chrono::system_clock::time_point at_ms(int64_t ms) {
  return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
}

}  // namespace

// system_clock counts nanoseconds in 64 bits here: it spans the years 1678 to 2262.
TEST_CASE("RFC 3339 timestamps agree with the C library from 1900 to 2200", "[common][text]") {
  CHECK(format_rfc3339_utc(at_ms(0)) == "1970-01-01T00:00:00.000Z");
  CHECK(format_rfc3339_utc(at_ms(-1)) == "1969-12-31T23:59:59.999Z");
  CHECK(format_rfc3339_utc(at_ms(951'782'400'000)) == "2000-02-29T00:00:00.000Z");  // a leap day
  CHECK(format_rfc3339_utc(at_ms(7'258'118'399'999)) == "2199-12-31T23:59:59.999Z");
  std::mt19937_64 random(2026);
  const int64_t from = -2'208'988'800'000;  // 1900-01-01
  const int64_t to = 7'258'118'400'000;     // 2200-01-01
  for (int i = 0; i < 20'000; ++i) {
    const int64_t ms = from + static_cast<int64_t>(random() % static_cast<uint64_t>(to - from));
    INFO("ms since the epoch: " << ms);
    const std::string text = format_rfc3339_utc(at_ms(ms));
    REQUIRE(text == rfc3339_by_libc(ms));
    REQUIRE(parse_rfc3339(text) == at_ms(ms));
  }
}

}  // namespace sluice::text
