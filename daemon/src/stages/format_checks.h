#pragma once
// Hand-written checks for the JSON Schema `format` values the schema stage asserts.
//
// Why not valijson's: the packaged valijson compiles a std::regex on every `date`, `time` and
// `date-time` check (about half a millisecond per message) and never checks `email`. Formats
// are therefore removed from schemas before valijson sees them and checked here instead.
// Each check is a single pass over the bytes with no allocation. Pure functions; any thread.

#include <optional>
#include <string_view>

namespace sluice::stages {

enum class Format {
  DateTime,  // RFC 3339 date-time: 2024-09-18T14:32:05Z, 2024-09-18T16:32:05.123+02:00
  Date,      // RFC 3339 full-date: 2024-09-18
  Time,      // RFC 3339 full-time, offset required: 14:32:05Z, 16:32:05.5+02:00
  Email,     // a pragmatic RFC 5321 mailbox, see is_valid_email
  Uuid,      // 8-4-4-4-12 hex digits, either case
  Ipv4,      // dotted quad, no leading zeros
};

// The format named by a schema's `format` value; nullopt for names not checked here.
std::optional<Format> parse_format_name(std::string_view name);
std::string_view format_name(Format format);

bool matches_format(Format format, std::string_view text);

// Calendar-exact: the day must exist in that month (29 February only in leap years); a leap
// second (:60) is accepted only where it can occur, at 23:59 UTC once the offset is applied.
// The separator is `T` or `t`, the zone `Z`, `z` or ±hh:mm; any number of fraction digits.
bool is_valid_date_time(std::string_view text);
bool is_valid_date(std::string_view text);
bool is_valid_time(std::string_view text);

// Dot-atom local part (1–64 bytes of letters, digits and !#$%&'*+-/=?^_`{|}~, dots only
// between characters) `@` a domain of at least two dot-separated labels (1–63 letters,
// digits or hyphens, no hyphen at either end; 253 bytes at most) or an IPv4 literal such as
// [192.0.2.1]. At most 254 bytes in all. Quoted local parts and non-ASCII addresses (the
// `idn-email` format) are rejected.
bool is_valid_email(std::string_view text);
bool is_valid_uuid(std::string_view text);
bool is_valid_ipv4(std::string_view text);

}  // namespace sluice::stages
