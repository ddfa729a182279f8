#include <chrono>

#include <catch2/catch.hpp>

#include "http/http_client.h"

namespace sluice::http {
namespace {

using namespace std::chrono;
using namespace std::chrono_literals;

// 1994-11-06 08:49:37 UTC, the example date of RFC 9110.
const system_clock::time_point kExampleDate = sys_days{1994y / November / 6} + 8h + 49min + 37s;

TEST_CASE("delta-seconds", "[http][retry_after]") {
  const auto now = system_clock::now();
  CHECK(parse_retry_after("120", now) == 120s);
  CHECK(parse_retry_after("0", now) == 0ms);
  CHECK(parse_retry_after(" 7 ", now) == 7s);
  CHECK(parse_retry_after("-5", now) == std::nullopt);
  CHECK(parse_retry_after("1.5", now) == std::nullopt);
  CHECK(parse_retry_after("12abc", now) == std::nullopt);
  CHECK(parse_retry_after("99999999999999999999999", now) == std::nullopt);
}

TEST_CASE("IMF-fixdate, relative to now", "[http][retry_after]") {
  CHECK(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", kExampleDate - 90s) == 90s);
  CHECK(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", kExampleDate - 1500ms) == 1500ms);
  CHECK(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", sys_days{2015y / October / 20} + 7h + 28min) == 24h);
}

TEST_CASE("a date in the past is no delay", "[http][retry_after]") {
  CHECK(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", kExampleDate) == 0ms);
  CHECK(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", kExampleDate + 1h) == 0ms);
}

TEST_CASE("the obsolete RFC 850 and asctime forms", "[http][retry_after]") {
  CHECK(parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", kExampleDate - 10s) == 10s);
  CHECK(parse_retry_after("Sun Nov  6 08:49:37 1994", kExampleDate - 10s) == 10s);
  CHECK(parse_retry_after("Sun Nov 16 08:49:37 1994", kExampleDate) == 240h);
  // A two-digit year more than 50 years ahead belongs to the previous century.
  const system_clock::time_point in_2030 = sys_days{2030y / January / 1};
  CHECK(parse_retry_after("Friday, 01-Jan-99 00:00:00 GMT", in_2030) == 0ms);
  CHECK(parse_retry_after("Monday, 01-Jan-35 00:00:00 GMT", in_2030) > 24h * 365 * 4);
}

TEST_CASE("anything else is not a Retry-After value", "[http][retry_after]") {
  const auto now = kExampleDate;
  CHECK(parse_retry_after("", now) == std::nullopt);
  CHECK(parse_retry_after("soon", now) == std::nullopt);
  CHECK(parse_retry_after("Sun, 06 Nov 1994 08:49:37 UTC", now) == std::nullopt);
  CHECK(parse_retry_after("Sun, 6 Nov 1994 08:49:37 GMT", now) == std::nullopt);
  CHECK(parse_retry_after("Sun, 31 Feb 1994 08:49:37 GMT", now) == std::nullopt);
  CHECK(parse_retry_after("Sun, 06 Nov 1994 24:00:00 GMT", now) == std::nullopt);
  CHECK(parse_retry_after("Sun, 06 Foo 1994 08:49:37 GMT", now) == std::nullopt);
  CHECK(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT trailing", now) == std::nullopt);
  CHECK(parse_retry_after("2026-01-01T00:00:00Z", now) == std::nullopt);
}

}  // namespace
}  // namespace sluice::http
