#include "json/json_parser.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <string>
#include <string_view>

using sluice::json::get_object;
using sluice::json::get_string;
using sluice::json::JsonParser;
using sluice::json::ParsedDocument;
using sluice::json::ParseOutcome;

namespace {

const sluice::json::Value& member(const ParsedDocument& document, const char* name) {
  const auto& root = document.root();
  REQUIRE(root.HasMember(name));
  return root[name];
}

}  // namespace

TEST_CASE("a valid object parses with its members", "[json][valid]") {
  JsonParser parser(64);
  ParsedDocument document;
  std::string_view raw =
      R"({"channel":"email","n":-12,"u":18446744073709551615,"f":1.5,"t":true,"z":null,)"
      R"("payload":{"body":"caf\u00e9 \ud83d\ude00"},"l":[1,"two",[3]]})";
  ParseOutcome outcome = parser.parse(raw, document);
  REQUIRE(outcome.ok);
  CHECK(outcome.error.empty());
  CHECK_FALSE(document.has_big_integer());
  CHECK(get_string(document.root(), "channel") == "email");
  CHECK(member(document, "n").IsInt64());
  CHECK(member(document, "n").GetInt64() == -12);
  CHECK(member(document, "u").IsUint64());
  CHECK(member(document, "u").GetUint64() == 18446744073709551615ULL);
  CHECK(member(document, "f").IsDouble());
  CHECK(member(document, "f").GetDouble() == 1.5);
  CHECK(member(document, "t").IsTrue());
  CHECK(member(document, "z").IsNull());
  CHECK(member(document, "l").Size() == 3);
  const auto* payload = get_object(document.root(), "payload");
  REQUIRE(payload != nullptr);
  CHECK(get_string(*payload, "body") == "caf\xC3\xA9 \xF0\x9F\x98\x80");
}

TEST_CASE("surrounding whitespace is allowed", "[json][valid]") {
  JsonParser parser(64);
  ParsedDocument document;
  CHECK(parser.parse(" \t\r\n{ \"a\" : 1 }\n\n ", document).ok);
  CHECK(parser.parse("{}", document).ok);
  CHECK(document.root().ObjectEmpty());
}

TEST_CASE("nesting beyond the limit fails cleanly", "[json][depth]") {
  JsonParser parser(64);
  ParsedDocument document;

  std::string at_limit = "{\"a\":" + std::string(63, '[') + std::string(63, ']') + "}";
  CHECK(parser.parse(at_limit, document).ok);

  std::string over_limit = "{\"a\":" + std::string(64, '[') + std::string(64, ']') + "}";
  ParseOutcome outcome = parser.parse(over_limit, document);
  CHECK_FALSE(outcome.ok);
  CHECK(outcome.error == "nesting deeper than 64 levels");

  // 100000 levels, objects and arrays: refused before any recursion could matter.
  std::string arrays = "{\"a\":" + std::string(100000, '[');
  std::string objects;
  for (int i = 0; i < 100000; ++i) objects += "{\"k\":";
  for (const std::string& deep : {arrays, objects}) {
    auto start = std::chrono::steady_clock::now();
    outcome = parser.parse(deep, document);
    auto elapsed = std::chrono::steady_clock::now() - start;
    CHECK_FALSE(outcome.ok);
    CHECK(outcome.error == "nesting deeper than 64 levels");
    CHECK(elapsed < std::chrono::milliseconds(100));
  }
  // The document is usable again afterwards.
  REQUIRE(parser.parse(R"({"ok":true})", document).ok);
  CHECK(member(document, "ok").IsTrue());
}

TEST_CASE("invalid UTF-8 is refused", "[json][utf8]") {
  JsonParser parser(64);
  ParsedDocument document;
  const char* cases[] = {
      "{\"a\":\"\xFF\"}",              // not a UTF-8 byte
      "{\"a\":\"\xC3\"}",              // truncated sequence
      "{\"a\":\"\xC0\xAF\"}",          // overlong '/'
      "{\"a\":\"\xE0\x80\xAF\"}",      // overlong, three bytes
      "{\"a\":\"\xED\xA0\x80\"}",      // an encoded surrogate
      "{\"a\":\"\xF4\x90\x80\x80\"}",  // above U+10FFFF
      "{\"a\":\"\x80\"}",              // lone continuation byte
      "{\"\xFE\":1}",                  // in a key
  };
  for (const char* raw : cases) {
    INFO(raw);
    ParseOutcome outcome = parser.parse(raw, document);
    CHECK_FALSE(outcome.ok);
    CHECK_FALSE(outcome.error.empty());
  }
  // The largest code points of each length are fine.
  CHECK(parser.parse("{\"a\":\"\x7F\xDF\xBF\xEF\xBF\xBF\xF4\x8F\xBF\xBF\"}", document).ok);
}

TEST_CASE("one bad byte anywhere in long text is found (ASCII text skips validation)", "[json][utf8]") {
  JsonParser parser(64);
  ParsedDocument document;
  const std::string ascii = "{\"subject\":\"" + std::string(40, 'x') + "\",\"body\":\"" + std::string(37, 'y') + "\"}";
  REQUIRE(parser.parse(ascii, document).ok);
  // Every string position, so the bad byte falls in each lane of the eight-byte words and in
  // the tail.
  for (size_t at = 0; at < ascii.size(); ++at) {
    if (ascii[at] != 'x' && ascii[at] != 'y') continue;
    std::string bad = ascii;
    bad[at] = '\xFF';
    INFO(at);
    CHECK_FALSE(parser.parse(bad, document).ok);
    bad[at] = '\xC3';  // a truncated sequence
    CHECK_FALSE(parser.parse(bad, document).ok);
  }
}

TEST_CASE("a byte order mark is refused", "[json][utf8]") {
  JsonParser parser(64);
  ParsedDocument document;
  ParseOutcome outcome = parser.parse("\xEF\xBB\xBF{\"a\":1}", document);
  CHECK_FALSE(outcome.ok);
  CHECK(outcome.error == "starts with a UTF-8 byte order mark");
  // U+FEFF inside a string is ordinary text.
  CHECK(parser.parse("{\"a\":\"\xEF\xBB\xBF\"}", document).ok);
}

TEST_CASE("NUL bytes are refused inside and after the value", "[json][nul]") {
  JsonParser parser(64);
  ParsedDocument document;
  using namespace std::string_view_literals;
  for (std::string_view raw : {"{\"a\":\"x\0y\"}"sv, "{\"a\":\0 1}"sv, "{\"a\":1}\0"sv, "{\"a\":1} \0 "sv,
                               "\0{\"a\":1}"sv, "{\"a\0\":1}"sv}) {
    INFO(std::string(raw));
    CHECK_FALSE(parser.parse(raw, document).ok);
  }
  ParseOutcome outcome = parser.parse("{\"a\":1}\0"sv, document);
  CHECK(outcome.error == "unexpected data after the JSON value at byte 7");
  // An escaped NUL is data.
  REQUIRE(parser.parse(R"({"a\u0000":"x\u0000y"})", document).ok);
  CHECK(get_string(document.root(), "a\0"sv) == "x\0y"sv);
}

TEST_CASE("anything after the object is refused", "[json][trailing]") {
  JsonParser parser(64);
  ParsedDocument document;
  for (const char* raw : {R"({"a":1}x)", R"({"a":1}{"b":2})", R"({"a":1},)", R"({"a":1} 1)", R"({"a":1}])"}) {
    INFO(raw);
    ParseOutcome outcome = parser.parse(raw, document);
    CHECK_FALSE(outcome.ok);
    CHECK_FALSE(outcome.error.empty());
  }
  CHECK(parser.parse(R"({"a":1} x)", document).error == "unexpected data after the JSON value at byte 8");
}

TEST_CASE("empty and truncated values are refused", "[json][empty]") {
  JsonParser parser(64);
  ParsedDocument document;
  ParseOutcome outcome = parser.parse("", document);
  CHECK_FALSE(outcome.ok);
  CHECK(outcome.error == "empty value");
  for (const char* raw : {" ", "\n\t", "{", R"({"a":)", R"({"a":1)", R"({"a":"x)", "{'a':1}", "{a:1}", R"({"a":1,})",
                          R"({"a":NaN})", R"({"a":Infinity})", R"({"a":01})", R"({"a":1.})", R"({"a":.5})",
                          R"({"a":"\x"})", "{\"a\":\"tab\there\"}"}) {
    INFO(raw);
    outcome = parser.parse(raw, document);
    CHECK_FALSE(outcome.ok);
    CHECK_FALSE(outcome.error.empty());
  }
}

TEST_CASE("a top-level value that is not an object is refused", "[json][shape]") {
  JsonParser parser(64);
  ParsedDocument document;
  for (const char* raw : {"[]", R"([{"a":1}])", R"("text")", "42", "-1.5", "true", "null", "1e999"}) {
    INFO(raw);
    ParseOutcome outcome = parser.parse(raw, document);
    CHECK_FALSE(outcome.ok);
    CHECK(outcome.error == "value is not a JSON object");
  }
}

TEST_CASE("numbers beyond the double range read as Python reads them", "[json][numbers]") {
  JsonParser parser(64);
  ParsedDocument document;

  REQUIRE(parser.parse(R"({"inf":1e999,"ninf":-1e999,"big_exponent":1.5E+400,"zero":1e-999,"nzero":-1e-999})", document)
              .ok);
  CHECK_FALSE(document.has_big_integer());
  CHECK(member(document, "inf").GetDouble() == INFINITY);
  CHECK(member(document, "ninf").GetDouble() == -INFINITY);
  CHECK(member(document, "big_exponent").GetDouble() == INFINITY);
  CHECK(member(document, "zero").GetDouble() == 0.0);
  CHECK_FALSE(std::signbit(member(document, "zero").GetDouble()));
  CHECK(member(document, "nzero").GetDouble() == 0.0);
  CHECK(std::signbit(member(document, "nzero").GetDouble()));

  // Subnormals and the largest double survive exactly.
  REQUIRE(parser.parse(R"({"tiny":5e-324,"max":1.7976931348623157e308})", document).ok);
  CHECK(member(document, "tiny").GetDouble() == 5e-324);
  CHECK(member(document, "max").GetDouble() == 1.7976931348623157e308);

  // Long mantissas round correctly, even past RapidJSON's own limits.
  std::string long_mantissa = "{\"v\":1" + std::string(400, '0') + "e-390}";
  REQUIRE(parser.parse(long_mantissa, document).ok);
  CHECK(member(document, "v").GetDouble() == 1e10);
  REQUIRE(parser.parse(R"({"v":0.1000000000000000055511151231257827021181583404541015625})", document).ok);
  CHECK(member(document, "v").GetDouble() == 0.1);
}

TEST_CASE("integers beyond 64 bits are flagged", "[json][numbers]") {
  JsonParser parser(64);
  ParsedDocument document;

  REQUIRE(parser.parse(R"({"v":123456789012345678901234567890})", document).ok);
  CHECK(document.has_big_integer());
  CHECK(member(document, "v").IsDouble());
  CHECK(member(document, "v").GetDouble() == 123456789012345678901234567890.0);

  REQUIRE(parser.parse(R"({"v":-9223372036854775809})", document).ok);
  CHECK(document.has_big_integer());

  std::string huge = "{\"v\":[1,\"" + std::string(500, '9') + "\"," + std::string(500, '9') + "]}";
  REQUIRE(parser.parse(huge, document).ok);
  CHECK(document.has_big_integer());
  CHECK(member(document, "v")[2].GetDouble() == INFINITY);
  CHECK(member(document, "v")[0].GetInt64() == 1);

  // The flag does not survive into the next parse, and 64-bit edges are not big.
  REQUIRE(parser.parse(R"({"a":9223372036854775807,"b":-9223372036854775808,"c":18446744073709551615,"d":-0})",
                       document)
              .ok);
  CHECK_FALSE(document.has_big_integer());
  CHECK(member(document, "c").GetUint64() == 18446744073709551615ULL);
  CHECK(member(document, "d").IsInt64());
  CHECK(member(document, "d").GetInt64() == 0);
  // A fraction or an exponent makes a float, as in Python.
  REQUIRE(parser.parse(R"({"a":1.0,"b":1e2,"c":-0.0})", document).ok);
  CHECK(member(document, "a").IsDouble());
  CHECK(member(document, "b").IsDouble());
  CHECK(std::signbit(member(document, "c").GetDouble()));
}

TEST_CASE("a number refused for its size elsewhere still fails where it should", "[json][numbers]") {
  JsonParser parser(64);
  ParsedDocument document;
  // The retry for too-big numbers must not turn broken text into a message.
  for (const char* raw : {R"({"a":1e999.5})", R"({"a":1e999e5})", R"({"a":01e999})", R"({"a":1e999 2})",
                          R"({"a":-1e999,})", R"({"a":1e999}x)", R"({"a":"1e999})", R"({"a" 1e999})"}) {
    INFO(raw);
    CHECK_FALSE(parser.parse(raw, document).ok);
  }
  // Digits in strings are left alone.
  REQUIRE(parser.parse(R"({"s":"1e999 \" 1e999","n":1e999,"t":"x"})", document).ok);
  CHECK(get_string(document.root(), "s") == R"(1e999 " 1e999)");
  CHECK(member(document, "n").GetDouble() == INFINITY);
}

TEST_CASE("values of several MiB parse", "[json][size]") {
  JsonParser parser(64);
  ParsedDocument document;
  std::string text(2 * 1024 * 1024, 'x');
  std::string raw = "{\"big\":\"" + text + "\",\"n\":1}";
  REQUIRE(parser.parse(raw, document).ok);
  CHECK(get_string(document.root(), "big").size() == text.size());

  std::string many = "{\"l\":[";
  for (int i = 0; i < 300000; ++i) many += "1234567,";
  many += "0]}";
  REQUIRE(parser.parse(many, document).ok);
  CHECK(member(document, "l").Size() == 300001);
}

TEST_CASE("one document serves many parses", "[json][reuse]") {
  JsonParser parser(64);
  ParsedDocument document;
  std::string large = "{\"k\":\"" + std::string(100000, 'y') + "\"}";
  for (int i = 0; i < 2000; ++i) {
    std::string small = "{\"i\":" + std::to_string(i) + ",\"s\":\"v" + std::to_string(i) + "\"}";
    REQUIRE(parser.parse(small, document).ok);
    CHECK(member(document, "i").GetInt64() == i);
    CHECK(get_string(document.root(), "s") == "v" + std::to_string(i));
    CHECK(document.root().MemberCount() == 2);
    if (i % 100 == 0) {
      REQUIRE(parser.parse(large, document).ok);
      CHECK(document.root().MemberCount() == 1);
      CHECK_FALSE(parser.parse("{\"broken\":", document).ok);
      CHECK(document.root().IsNull());
    }
  }
}

TEST_CASE("the document owns its text: strings outlive the caller's bytes", "[json][reuse]") {
  JsonParser parser(64);
  ParsedDocument document;
  auto bytes = std::make_unique<std::string>(R"({"from":"a@example.com","text":"line\nnext \u00e9","n":{"k":"v"}})");
  REQUIRE(parser.parse(*bytes, document).ok);
  // The caller's buffer is overwritten and freed (AddressSanitizer sees a read of it).
  std::fill(bytes->begin(), bytes->end(), 'x');
  bytes.reset();
  CHECK(get_string(document.root(), "from") == "a@example.com");
  CHECK(get_string(document.root(), "text") == "line\nnext \xc3\xa9");
  const sluice::json::Value* nested = get_object(document.root(), "n");
  REQUIRE(nested != nullptr);
  CHECK(get_string(*nested, "k") == "v");
  // Strings are NUL-terminated where they stand, as RapidJSON's GetString() promises.
  CHECK(std::string(member(document, "from").GetString()) == "a@example.com");
}

TEST_CASE("a failed parse leaves no object behind", "[json][reuse]") {
  JsonParser parser(64);
  ParsedDocument document;
  REQUIRE(parser.parse(R"({"a":123456789012345678901234567890})", document).ok);
  CHECK_FALSE(parser.parse(R"({"a":1)", document).ok);
  CHECK_FALSE(document.has_big_integer());
  CHECK_FALSE(document.root().IsObject());
  CHECK(get_string(document.root(), "a").empty());
  CHECK(get_object(document.root(), "a") == nullptr);
}

TEST_CASE("member lookups see the last duplicate", "[json][lookup]") {
  JsonParser parser(64);
  ParsedDocument document;
  REQUIRE(parser.parse(R"({"a":"first","b":{"x":1},"a":"last","b":{"x":2},"c":"s","c":5,"d":{"y":1},"d":[]})",
                       document)
              .ok);
  const auto& root = document.root();
  CHECK(get_string(root, "a") == "last");
  const auto* b = get_object(root, "b");
  REQUIRE(b != nullptr);
  CHECK((*b)["x"].GetInt() == 2);
  // The last one decides the type: neither falls back to an earlier member.
  CHECK(get_string(root, "c").empty());
  CHECK(get_object(root, "d") == nullptr);
  CHECK(get_string(root, "missing").empty());
  CHECK(get_object(root, "missing") == nullptr);
  // Escaped names match.
  REQUIRE(parser.parse(R"({"k\u0065y":"v"})", document).ok);
  CHECK(get_string(document.root(), "key") == "v");
  // Lookups on a non-object find nothing.
  CHECK(get_string(document.root()["key"], "key").empty());
  CHECK(get_object(document.root()["key"], "key") == nullptr);
}
