#include <catch2/catch.hpp>

#include <string>

#include "stages/format_checks.h"

using namespace sluice::stages;

TEST_CASE("date-time accepts RFC 3339 forms with offsets and fractions", "[stages][format]") {
  CHECK(is_valid_date_time("2024-09-18T14:32:05Z"));
  CHECK(is_valid_date_time("2024-09-18t14:32:05z"));
  CHECK(is_valid_date_time("2024-09-18T14:32:05.123Z"));
  CHECK(is_valid_date_time("2024-09-18T14:32:05.123456789+02:00"));
  CHECK(is_valid_date_time("2024-09-18T14:32:05-07:30"));
  CHECK(is_valid_date_time("2024-02-29T00:00:00Z"));  // leap year
  CHECK(is_valid_date_time("2000-02-29T00:00:00Z"));  // divisible by 400
  CHECK(is_valid_date_time("1998-12-31T23:59:60Z"));  // leap second at the end of the UTC day
  CHECK(is_valid_date_time("1998-12-31T15:59:60.123-08:00"));
}

TEST_CASE("date-time rejects impossible dates and other shapes", "[stages][format]") {
  CHECK_FALSE(is_valid_date_time("2024-02-31T10:00:00Z"));
  CHECK_FALSE(is_valid_date_time("2023-02-29T10:00:00Z"));  // not a leap year
  CHECK_FALSE(is_valid_date_time("1900-02-29T10:00:00Z"));  // century, not divisible by 400
  CHECK_FALSE(is_valid_date_time("2024-04-31T10:00:00Z"));
  CHECK_FALSE(is_valid_date_time("2024-13-01T10:00:00Z"));
  CHECK_FALSE(is_valid_date_time("2024-00-01T10:00:00Z"));
  CHECK_FALSE(is_valid_date_time("2024-01-00T10:00:00Z"));
  CHECK_FALSE(is_valid_date_time("yesterday"));
  CHECK_FALSE(is_valid_date_time(""));
  CHECK_FALSE(is_valid_date_time("2024-09-18"));
  CHECK_FALSE(is_valid_date_time("2024-09-18T14:32:05"));  // offset required
  CHECK_FALSE(is_valid_date_time("2024-09-18 14:32:05Z"));  // space separator is not the grammar
  CHECK_FALSE(is_valid_date_time("2024-09-18T24:00:00Z"));
  CHECK_FALSE(is_valid_date_time("2024-09-18T14:60:00Z"));
  CHECK_FALSE(is_valid_date_time("2024-09-18T14:32:61Z"));
  CHECK_FALSE(is_valid_date_time("2024-09-18T14:32:05.Z"));
  CHECK_FALSE(is_valid_date_time("2024-09-18T14:32:05+2:00"));
  CHECK_FALSE(is_valid_date_time("2024-09-18T14:32:05+24:00"));
  CHECK_FALSE(is_valid_date_time("2024-09-18T14:32:05Z "));
  CHECK_FALSE(is_valid_date_time("1998-12-31T22:59:60Z"));  // leap second in the wrong hour
  CHECK_FALSE(is_valid_date_time("1998-12-31T23:58:60Z"));  // leap second in the wrong minute
  CHECK_FALSE(is_valid_date_time("\xd9\xa1\xd9\xa9\xd9\xa9\xd9\xa8-12-31T23:59:59Z"));  // non-ASCII digits
}

TEST_CASE("date and time formats follow RFC 3339 full-date and full-time", "[stages][format]") {
  CHECK(is_valid_date("2024-02-29"));
  CHECK_FALSE(is_valid_date("2024-02-30"));
  CHECK_FALSE(is_valid_date("2024-2-3"));
  CHECK(is_valid_time("14:32:05Z"));
  CHECK(is_valid_time("14:32:05.5+02:00"));
  CHECK_FALSE(is_valid_time("14:32:05"));
  CHECK_FALSE(is_valid_time("25:00:00Z"));
}

TEST_CASE("email accepts ordinary addresses", "[stages][format]") {
  CHECK(is_valid_email("alice.sender@example.com"));
  CHECK(is_valid_email("Bob+tag@Mail.Example.ORG"));
  CHECK(is_valid_email("o'brien_x-y@sub-domain.example.co.uk"));
  CHECK(is_valid_email("a@b.cd"));
  CHECK(is_valid_email("user@[192.0.2.1]"));
  CHECK(is_valid_email(std::string(64, 'a') + "@example.com"));
}

TEST_CASE("email rejects what is not a mailbox", "[stages][format]") {
  CHECK_FALSE(is_valid_email("not-an-email"));
  CHECK_FALSE(is_valid_email(""));
  CHECK_FALSE(is_valid_email("@example.com"));
  CHECK_FALSE(is_valid_email("alice@"));
  CHECK_FALSE(is_valid_email("alice@@example.com"));
  CHECK_FALSE(is_valid_email("alice@bob@example.com"));
  CHECK_FALSE(is_valid_email("alice@localhost"));  // one label
  CHECK_FALSE(is_valid_email(".alice@example.com"));
  CHECK_FALSE(is_valid_email("alice.@example.com"));
  CHECK_FALSE(is_valid_email("al..ice@example.com"));
  CHECK_FALSE(is_valid_email("al ice@example.com"));
  CHECK_FALSE(is_valid_email("alice@exa_mple.com"));
  CHECK_FALSE(is_valid_email("alice@-example.com"));
  CHECK_FALSE(is_valid_email("alice@example-.com"));
  CHECK_FALSE(is_valid_email("alice@example..com"));
  CHECK_FALSE(is_valid_email("alice@example.com."));
  CHECK_FALSE(is_valid_email("\"quoted\"@example.com"));
  CHECK_FALSE(is_valid_email("j\xc3\xb6rg@example.com"));  // non-ASCII belongs to idn-email
  CHECK_FALSE(is_valid_email(std::string(65, 'a') + "@example.com"));
  CHECK_FALSE(is_valid_email("a@" + std::string(64, 'b') + ".com"));  // label over 63
  std::string long_domain;
  for (int i = 0; i < 25; ++i) long_domain += "abcdefghi.";
  CHECK_FALSE(is_valid_email("a@" + long_domain + "com"));  // over 254 in all
  CHECK_FALSE(is_valid_email("user@[192.0.2.256]"));
}

TEST_CASE("uuid and ipv4 formats", "[stages][format]") {
  CHECK(is_valid_uuid("9b2f6c1e-3d4a-4b8e-9f21-7c5d2a1e8b90"));
  CHECK(is_valid_uuid("9B2F6C1E-3D4A-4B8E-9F21-7C5D2A1E8B90"));
  CHECK_FALSE(is_valid_uuid("9b2f6c1e3d4a4b8e9f217c5d2a1e8b90"));
  CHECK_FALSE(is_valid_uuid("9b2f6c1e-3d4a-4b8e-9f21-7c5d2a1e8b9g"));
  CHECK(is_valid_ipv4("192.0.2.1"));
  CHECK(is_valid_ipv4("0.0.0.0"));
  CHECK(is_valid_ipv4("255.255.255.255"));
  CHECK_FALSE(is_valid_ipv4("256.0.0.1"));
  CHECK_FALSE(is_valid_ipv4("1.2.3"));
  CHECK_FALSE(is_valid_ipv4("1.2.3.4.5"));
  CHECK_FALSE(is_valid_ipv4("01.2.3.4"));
  CHECK_FALSE(is_valid_ipv4("1.2.3.4567"));
  CHECK_FALSE(is_valid_ipv4("1..3.4"));
}

TEST_CASE("format names map both ways and unknown names are not claimed", "[stages][format]") {
  for (Format format : {Format::DateTime, Format::Date, Format::Time, Format::Email, Format::Uuid, Format::Ipv4}) {
    auto parsed = parse_format_name(format_name(format));
    REQUIRE(parsed.has_value());
    CHECK(*parsed == format);
  }
  CHECK_FALSE(parse_format_name("hostname").has_value());
  CHECK_FALSE(parse_format_name("Email").has_value());
  CHECK(matches_format(Format::Email, "a@b.cd"));
  CHECK_FALSE(matches_format(Format::DateTime, "a@b.cd"));
}
