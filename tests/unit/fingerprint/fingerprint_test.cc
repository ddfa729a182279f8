#include "fingerprint/fingerprint.h"

#include <catch2/catch.hpp>

#include <string>
#include <string_view>

#include "json/json_parser.h"

namespace {

using sluice::fingerprint::Fingerprint;
using sluice::fingerprint::Fingerprinter;

// Parses one message and returns the text the fingerprint hashes.
class Canonical {
 public:
  std::string operator()(std::string_view raw) {
    auto outcome = parser_.parse(raw, document_);
    INFO(outcome.error);
    REQUIRE(outcome.ok);
    last_ = fingerprinter_.compute(document_, raw);
    return fingerprinter_.last_canonical_text();
  }
  Fingerprint fingerprint(std::string_view raw) {
    (*this)(raw);
    return last_;
  }

 private:
  sluice::json::JsonParser parser_{64};
  sluice::json::ParsedDocument document_;
  Fingerprinter fingerprinter_;
  Fingerprint last_;
};

std::string value_of(std::string_view number_text) {
  Canonical canonical;
  std::string raw = "{\"v\":" + std::string(number_text) + "}";
  std::string text = canonical(raw);
  REQUIRE(text.size() > 7);
  REQUIRE(text.substr(0, 6) == "{\"v\": ");
  return text.substr(6, text.size() - 7);
}

}  // namespace

TEST_CASE("the fingerprint is sha-256 of the canonical text in lowercase hex", "[fingerprint][hash]") {
  Canonical canonical;
  // Everything volatile is stripped, leaving "{}".
  Fingerprint fp = canonical.fingerprint(R"({"timestamp":"2026-01-01T00:00:00Z","correlation_id":"c"})");
  CHECK(fp.hex() == "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
  CHECK(fp.hex().size() == 64);
}

TEST_CASE("volatile fields are stripped at the top level and inside an object payload", "[fingerprint][strip]") {
  Canonical canonical;
  CHECK(canonical(R"({"timestamp":"t","processed_at":1,"correlation_id":"c","sequence_number":5,)"
                  R"("channel":"email","payload":{"timestamp":"t","received_at":"r","body":"b"}})") ==
        R"({"channel": "email", "payload": {"body": "b"}})");
  // received_at only goes inside payload; processed_at and friends only at the top.
  CHECK(canonical(R"({"received_at":1,"payload":{"processed_at":2,"correlation_id":3,"sequence_number":4}})") ==
        R"({"payload": {"correlation_id": 3, "processed_at": 2, "sequence_number": 4}, "received_at": 1})");
  // Nothing deeper is touched.
  CHECK(canonical(R"({"meta":{"timestamp":1},"payload":{"inner":{"timestamp":3,"received_at":4}}})") ==
        R"({"meta": {"timestamp": 1}, "payload": {"inner": {"received_at": 4, "timestamp": 3}}})");
  // Names are compared after unescaping.
  CHECK(canonical(R"({"time\u0073tamp":1,"payload":{"received\u005fat":2,"x":3}})") == R"({"payload": {"x": 3}})");
  CHECK(canonical(R"({"p\u0061yload":{"timestamp":1,"y":2}})") == R"({"payload": {"y": 2}})");
  // Similar names stay.
  CHECK(canonical(R"({"Timestamp":1,"timestamp ":2,"timestamps":3,"timestamp\u0000":4})") ==
        R"({"Timestamp": 1, "timestamp\u0000": 4, "timestamp ": 2, "timestamps": 3})");
}

TEST_CASE("absent volatile fields and an empty message", "[fingerprint][strip]") {
  Canonical canonical;
  CHECK(canonical(R"({"b":1,"a":2})") == R"({"a": 2, "b": 1})");
  CHECK(canonical("{}") == "{}");
  CHECK(canonical(R"({"payload":{}})") == R"({"payload": {}})");
  CHECK(canonical(R"({"payload":{"timestamp":1,"received_at":2}})") == R"({"payload": {}})");
}

TEST_CASE("a payload that is not an object is kept whole", "[fingerprint][strip]") {
  Canonical canonical;
  CHECK(canonical(R"({"payload":"timestamp"})") == R"({"payload": "timestamp"})");
  CHECK(canonical(R"({"payload":[{"timestamp":1,"received_at":2}]})") ==
        R"({"payload": [{"received_at": 2, "timestamp": 1}]})");
  CHECK(canonical(R"({"payload":null,"timestamp":1})") == R"({"payload": null})");
  CHECK(canonical(R"({"payload":12.5})") == R"({"payload": 12.5})");
}

TEST_CASE("duplicate keys keep the last value, as json.loads does", "[fingerprint][duplicates]") {
  Canonical canonical;
  CHECK(canonical(R"({"a":1,"b":2,"a":3})") == R"({"a": 3, "b": 2})");
  CHECK(canonical(R"({"a":{"x":1,"x":[1,2],"y":0},"a":{"z":1,"z":2}})") == R"({"a": {"z": 2}})");
  CHECK(canonical(R"({"l":[{"k":1,"k":2},{"k":3}]})") == R"({"l": [{"k": 2}, {"k": 3}]})");
  // The last payload decides whether anything inside it is stripped.
  CHECK(canonical(R"({"payload":{"timestamp":1,"x":1},"payload":"s"})") == R"({"payload": "s"})");
  CHECK(canonical(R"({"payload":"s","payload":{"timestamp":1,"x":1}})") == R"({"payload": {"x": 1}})");
  // Every copy of a volatile field goes.
  CHECK(canonical(R"({"timestamp":1,"a":0,"timestamp":2})") == R"({"a": 0})");
  // Escaped and plain spellings of one name are the same key.
  CHECK(canonical(R"({"k\u0065y":1,"key":2})") == R"({"key": 2})");
  CHECK(canonical(R"({"key":2,"k\u0065y":1})") == R"({"key": 1})");
}

TEST_CASE("keys sort by code point", "[fingerprint][order]") {
  Canonical canonical;
  std::string raw = "{\"\xC3\xA9\":1,\"e\":2,\"z\":3,\"Z\":4,\"\xF0\x9F\x98\x80\":5,\"\xEF\xAC\x81\":6,\"\":7,"
                    "\"\xEF\xBF\xBF\":8,\"\xF0\x90\x80\x80\":9,\"a\\u0000b\":10,\"a\":11}";
  CHECK(canonical(raw) ==
        R"({"": 7, "Z": 4, "a": 11, "a\u0000b": 10, "e": 2, "z": 3, "\u00e9": 1, "\ufb01": 6, "\uffff": 8, )"
        R"("\ud800\udc00": 9, "\ud83d\ude00": 5})");
  CHECK(canonical(R"({"b":{"d":1,"c":2},"a":[{"y":1,"x":2}]})") == R"({"a": [{"x": 2, "y": 1}], "b": {"c": 2, "d": 1}})");
}

TEST_CASE("strings are escaped as ensure_ascii does", "[fingerprint][escape]") {
  Canonical canonical;
  // é raw, € escaped, 😀 both escaped and raw, controls, DEL, \/ and the short escapes.
  std::string raw = "{\"s\":\"\xC3\xA9\\u20ac\\ud83d\\ude00\xF0\x9F\x98\x80\\u0000\\u001f\x7f\\/\\\\\\\"\\n\\r\\t\\b\\f"
                    "\\u2028\\uFEFF\\u000B\"}";
  CHECK(canonical(raw) ==
        R"({"s": "\u00e9\u20ac\ud83d\ude00\ud83d\ude00\u0000\u001f\u007f/\\\"\n\r\t\b\f\u2028\ufeff\u000b"})");
  CHECK(canonical(R"({"k\n\u00e9":"a b ~ !"})") == R"({"k\n\u00e9": "a b ~ !"})");
  CHECK(canonical("{\"max\":\"\xF4\x8F\xBF\xBF\"}") == R"({"max": "\udbff\udfff"})");
}

TEST_CASE("escaping is exact wherever the character sits in a string", "[fingerprint][escape]") {
  // Plain text is copied in 8-byte steps, so every offset and tail length matters.
  struct Special {
    const char* in_json;
    const char* printed;
  };
  const Special specials[] = {
      {"\\\"", "\\\""},   {"\\\\", "\\\\"},         {"\\u0001", "\\u0001"}, {"\\u001f", "\\u001f"},
      {"\x7f", "\\u007f"}, {"\xC3\xA9", "\\u00e9"}, {"\\n", "\\n"},         {"\xF0\x9F\x98\x80", "\\ud83d\\ude00"},
      {" ", " "},          {"~", "~"},             {"\\/", "/"},           {"\xE2\x82\xAC", "\\u20ac"},
  };
  Canonical canonical;
  for (size_t length = 0; length <= 20; ++length) {
    for (size_t position = 0; position <= length; ++position) {
      for (const Special& special : specials) {
        std::string before(position, 'x');
        std::string after(length - position, 'y');
        std::string raw = "{\"s\":\"" + before + special.in_json + after + special.in_json + "\"}";
        std::string expected = "{\"s\": \"" + before + special.printed + after + special.printed + "\"}";
        INFO(raw);
        CHECK(canonical(raw) == expected);
      }
    }
  }
}

TEST_CASE("long strings escape correctly across the writer's slices", "[fingerprint][escape]") {
  Canonical canonical;
  // Plain runs that start after an escape and cross 64 KiB boundaries, then text that grows
  // sixfold, then multi-byte characters straddling the boundaries.
  std::string raw = "{\"s\":\"\\n" + std::string(200000, 'x');
  std::string expected = "{\"s\": \"\\n" + std::string(200000, 'x');
  for (int i = 0; i < 70000; ++i) {
    raw += "\\u0001";
    expected += "\\u0001";
  }
  for (int i = 0; i < 50000; ++i) {
    raw += i % 2 == 0 ? "\xF0\x9F\x98\x80" : "\xC3\xA9y";
    expected += i % 2 == 0 ? "\\ud83d\\ude00" : "\\u00e9y";
  }
  raw += "\"}";
  expected += "\"}";
  CHECK(canonical(raw) == expected);
  // The same Fingerprinter then handles a small message as before.
  CHECK(canonical(R"({"a":"b"})") == R"({"a": "b"})");
}

TEST_CASE("nesting as deep as the parser allows is written in full", "[fingerprint][layout]") {
  constexpr int kDepth = 1000;  // the configuration's upper bound for max_json_depth
  sluice::json::JsonParser parser(kDepth);
  sluice::json::ParsedDocument document;
  std::string raw = "{\"a\":";
  std::string expected = "{\"a\": ";
  for (int i = 1; i < kDepth - 1; ++i) {
    raw += i % 2 == 0 ? "[" : "{\"k\":";
    expected += i % 2 == 0 ? "[" : "{\"k\": ";
  }
  raw += "[1]";
  expected += "[1]";
  for (int i = kDepth - 2; i >= 1; --i) {
    raw += i % 2 == 0 ? "]" : "}";
    expected += i % 2 == 0 ? "]" : "}";
  }
  raw += "}";
  expected += "}";
  REQUIRE(parser.parse(raw, document).ok);
  Fingerprinter fingerprinter;
  fingerprinter.compute(document, raw);
  CHECK(fingerprinter.last_canonical_text() == expected);
}

TEST_CASE("an escaped lone low surrogate prints as Python prints it", "[fingerprint][escape]") {
  // json.loads accepts it and so does the parser, which keeps it in its 3-byte form.
  Canonical canonical;
  CHECK(canonical(R"({"s":"a\udc00b","\uDFFF":1})") == R"({"s": "a\udc00b", "\udfff": 1})");
}

TEST_CASE("literals and containers use Python's spacing", "[fingerprint][layout]") {
  Canonical canonical;
  CHECK(canonical(" { \"t\" : true ,\n\"f\":false,\t\"n\":null , \"a\":[ ], \"o\":{ }, \"l\":[1,[2,[]],{}] } ") ==
        R"({"a": [], "f": false, "l": [1, [2, []], {}], "n": null, "o": {}, "t": true})");
}

TEST_CASE("whitespace and escape spelling do not change the fingerprint", "[fingerprint][layout]") {
  Canonical canonical;
  Fingerprint a = canonical.fingerprint(R"({"channel":"email","payload":{"body":"caf)"
                                        "\xC3\xA9"
                                        R"(","n":1}})");
  Fingerprint b = canonical.fingerprint("\n{ \"payload\" : { \"n\" : 1 , \"b\\u006fdy\" : \"caf\\u00E9\" } ,\r\n"
                                        "  \"channel\" : \"email\", \"timestamp\": 1 }\t");
  Fingerprint c = canonical.fingerprint(R"({"channel":"email","payload":{"body":"cafe","n":1}})");
  CHECK(a == b);
  CHECK_FALSE(a == c);
}

TEST_CASE("floats print as Python's repr", "[fingerprint][float]") {
  struct Case {
    const char* raw;
    const char* expected;
  };
  const Case cases[] = {
      {"1.0", "1.0"},
      {"100.0", "100.0"},
      {"1e2", "100.0"},
      {"1E+2", "100.0"},
      {"-123.456e3", "-123456.0"},
      {"0.0", "0.0"},
      {"-0.0", "-0.0"},
      {"-0e0", "-0.0"},
      {"0.0001", "0.0001"},
      {"0.00001", "1e-05"},
      {"2.5e-5", "2.5e-05"},
      {"4.35e-6", "4.35e-06"},
      {"1e-7", "1e-07"},
      {"1e15", "1000000000000000.0"},
      {"9999999999999998.0", "9999999999999998.0"},
      {"1e16", "1e+16"},
      {"1e22", "1e+22"},
      {"123456789012345678.0", "1.2345678901234568e+17"},
      {"1.5e300", "1.5e+300"},
      {"5e-324", "5e-324"},
      {"2.2250738585072014e-308", "2.2250738585072014e-308"},
      {"1.7976931348623157e308", "1.7976931348623157e+308"},
      {"0.1", "0.1"},
      {"0.30000000000000004", "0.30000000000000004"},
      {"3.141592653589793238", "3.141592653589793"},
      {"1234.5e-2", "12.345"},
      {"12345678901234567890e-10", "1234567890.1234567"},
      {"1e999", "Infinity"},
      {"-1e999", "-Infinity"},
      {"1e-999", "0.0"},
      {"-1e-999", "-0.0"},
  };
  for (const Case& c : cases) {
    INFO(c.raw);
    CHECK(value_of(c.raw) == c.expected);
  }
}

TEST_CASE("numbers beyond the double range still parse and print as Python does", "[fingerprint][float]") {
  CHECK(value_of("1" + std::string(400, '0') + "e-390") == "10000000000.0");
  CHECK(value_of("0.000000000000000000000000000000000000001e350") == "Infinity");
  CHECK(value_of("1.0e+309") == "Infinity");
}

TEST_CASE("integers print exactly, beyond 64 bits too", "[fingerprint][integer]") {
  const char* same[] = {"0",
                        "7",
                        "-42",
                        "9223372036854775807",
                        "-9223372036854775808",
                        "18446744073709551615",
                        "18446744073709551616",
                        "-9223372036854775809",
                        "123456789012345678901234567890",
                        "-98765432109876543210987654321"};
  for (const char* text : same) {
    INFO(text);
    CHECK(value_of(text) == text);
  }
  CHECK(value_of("-0") == "0");
  std::string huge(400, '7');
  CHECK(value_of(huge) == huge);
  CHECK(value_of("-" + huge) == "-" + huge);
}

TEST_CASE("big integers are matched to their place in the document", "[fingerprint][integer]") {
  Canonical canonical;
  // Strings holding digits and escaped quotes come first; numbers sit in arrays, nested
  // objects and duplicate keys; the sort reorders them.
  std::string_view raw =
      R"({"z":[1,18446744073709551617,{"q":"99999999999999999999 \"-1 2e5\\","n":-18446744073709551618}],)"
      R"("a":1e400,"d":100000000000000000000,"d":200000000000000000000,"b":2.5,)"
      R"("c":{"x":300000000000000000000,"x":3}})";
  CHECK(canonical(raw) ==
        R"({"a": Infinity, "b": 2.5, "c": {"x": 3}, "d": 200000000000000000000, )"
        R"("z": [1, 18446744073709551617, {"n": -18446744073709551618, "q": "99999999999999999999 \"-1 2e5\\"}]})");
  // Reusing the Fingerprinter on a message without big integers forgets the old ones.
  CHECK(canonical(R"({"a":1e400,"d":2e20})") == R"({"a": Infinity, "d": 2e+20})");
}

TEST_CASE("a fingerprinter gives the same answer however often it is reused", "[fingerprint][reuse]") {
  Canonical canonical;
  std::string_view first = R"({"channel":"email","payload":{"body":"hello","timestamp":"x"},"n":[1,2,{"k":"v"}]})";
  std::string_view second = R"({"channel":"whatsapp","payload":{"message_text":"hi"},"n":123456789012345678901234567890})";
  Fingerprint a = canonical.fingerprint(first);
  Fingerprint b = canonical.fingerprint(second);
  for (int i = 0; i < 100; ++i) {
    CHECK(canonical.fingerprint(first) == a);
    CHECK(canonical.fingerprint(second) == b);
  }
  CHECK_FALSE(a == b);
  CHECK(sluice::fingerprint::FingerprintHash()(a) != sluice::fingerprint::FingerprintHash()(b));
}
