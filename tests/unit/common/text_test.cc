#include "common/text.h"

#include <cstdint>
#include <random>
#include <string>

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
  for (int round = 0; round < 20000; ++round) {
    std::string input;
    const size_t length = random() % 24;
    for (size_t i = 0; i < length; ++i) input += alphabet[random() % alphabet.size()];
    INFO("round " << round);
    REQUIRE(escaped(input) == escaped_bytewise(input));
  }
}

}  // namespace
}  // namespace sluice::text
