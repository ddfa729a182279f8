#pragma once
// Small byte and text helpers shared by every module. All are pure functions.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::text {

// True when `bytes` is well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool is_valid_utf8(std::string_view bytes);

std::string base64_encode(std::string_view bytes);
// nullopt when `text` is not canonical padded base64.
std::optional<std::string> base64_decode(std::string_view text);

// Appends `text` to `out` as the inside of a JSON string (no quotes): `"` `\\` and control
// characters (and DEL) escaped, valid UTF-8 kept as it is. Invalid UTF-8 bytes become U+FFFD,
// so the output is always valid JSON; for valid UTF-8 input the escaping is exactly reversible.
void append_json_escaped(std::string& out, std::string_view text);

// Lowercase hex of raw bytes.
std::string to_hex(const unsigned char* bytes, size_t size);
// The same into `out`, reusing its capacity (for per-message work).
void assign_hex(const unsigned char* bytes, size_t size, std::string& out);

// ASCII-only lowercasing; other bytes are kept as they are.
std::string ascii_lower(std::string_view text);
inline char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

// Strips ASCII whitespace at both ends.
std::string_view trim(std::string_view text);

// "500ms", "10s", "5m", "24h", "1d", or a combination such as "1h30m": each unit at most once,
// largest first ("30m1h" and "1s1s" are refused). Zero may be written "0".
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);
// The shortest exact spelling: 10000ms -> "10s", 90000ms -> "90s", 3600000ms -> "1h".
std::string format_duration(std::chrono::milliseconds duration);

// Decimal integer with an optional sign; nullopt on anything else or on overflow.
std::optional<int64_t> parse_int(std::string_view text);

// RFC 3339 UTC with milliseconds, e.g. 2026-11-26T19:32:08.123Z.
std::string format_rfc3339_utc(std::chrono::system_clock::time_point time);
// Accepts RFC 3339 date-times (any offset, optional fraction); nullopt when invalid.
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text);

int64_t epoch_ms(std::chrono::system_clock::time_point time);
inline int64_t now_epoch_ms() { return epoch_ms(std::chrono::system_clock::now()); }

}  // namespace sluice::text
