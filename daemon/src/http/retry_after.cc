#include <array>
#include <chrono>
#include <optional>
#include <string_view>

#include "common/text.h"
#include "http/http_client.h"

namespace sluice::http {
namespace {

using std::chrono::system_clock;

constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::array<std::string_view, 7> kShortDays = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
constexpr std::array<std::string_view, 7> kLongDays = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                                       "Friday", "Saturday", "Sunday"};

// Reads `text` from left to right; every take_* fails without moving when it does not match.
class Scanner {
 public:
  explicit Scanner(std::string_view text) : text_(text) {}

  bool done() const { return text_.empty(); }

  bool literal(std::string_view expected) {
    if (!text_.starts_with(expected)) return false;
    text_.remove_prefix(expected.size());
    return true;
  }

  // Exactly `count` digits.
  std::optional<int> digits(size_t count) {
    if (text_.size() < count) return std::nullopt;
    int value = 0;
    for (size_t i = 0; i < count; ++i) {
      const char c = text_[i];
      if (c < '0' || c > '9') return std::nullopt;
      value = value * 10 + (c - '0');
    }
    text_.remove_prefix(count);
    return value;
  }

  template <size_t N>
  bool one_of(const std::array<std::string_view, N>& names, int* index = nullptr) {
    for (size_t i = 0; i < N; ++i) {
      if (literal(names[i])) {
        if (index != nullptr) *index = static_cast<int>(i);
        return true;
      }
    }
    return false;
  }

  // hour ":" minute ":" second
  bool time_of_day(int& hour, int& minute, int& second) {
    std::optional<int> h = digits(2);
    if (!h || !literal(":")) return false;
    std::optional<int> m = digits(2);
    if (!m || !literal(":")) return false;
    std::optional<int> s = digits(2);
    if (!s) return false;
    hour = *h;
    minute = *m;
    second = *s;
    return true;
  }

 private:
  std::string_view text_;
};

struct DateTime {
  int year = 0;
  int month = 0;  // 0-based
  int day = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
};

std::optional<system_clock::time_point> to_time_point(const DateTime& date) {
  using namespace std::chrono;
  const year_month_day ymd{year{date.year}, month{static_cast<unsigned>(date.month + 1)},
                           day{static_cast<unsigned>(date.day)}};
  if (!ymd.ok() || date.hour > 23 || date.minute > 59 || date.second > 60) return std::nullopt;
  // A leap second (:60) is read as the last second of its minute.
  const int second = date.second == 60 ? 59 : date.second;
  return sys_days{ymd} + hours{date.hour} + minutes{date.minute} + seconds{second};
}

// IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
std::optional<DateTime> parse_imf_fixdate(std::string_view text) {
  Scanner in(text);
  DateTime date;
  if (!in.one_of(kShortDays) || !in.literal(", ")) return std::nullopt;
  std::optional<int> day = in.digits(2);
  if (!day || !in.literal(" ") || !in.one_of(kMonths, &date.month) || !in.literal(" ")) return std::nullopt;
  std::optional<int> year = in.digits(4);
  if (!year || !in.literal(" ") || !in.time_of_day(date.hour, date.minute, date.second)) return std::nullopt;
  if (!in.literal(" GMT") || !in.done()) return std::nullopt;
  date.day = *day;
  date.year = *year;
  return date;
}

// Obsolete RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT". A two-digit year that would be more
// than 50 years ahead of `now` belongs to the century before (RFC 9110, 5.6.7).
std::optional<DateTime> parse_rfc850(std::string_view text, system_clock::time_point now) {
  Scanner in(text);
  DateTime date;
  if (!in.one_of(kLongDays) || !in.literal(", ")) return std::nullopt;
  std::optional<int> day = in.digits(2);
  if (!day || !in.literal("-") || !in.one_of(kMonths, &date.month) || !in.literal("-")) return std::nullopt;
  std::optional<int> two_digit_year = in.digits(2);
  if (!two_digit_year || !in.literal(" ") || !in.time_of_day(date.hour, date.minute, date.second)) return std::nullopt;
  if (!in.literal(" GMT") || !in.done()) return std::nullopt;
  const std::chrono::year_month_day today{std::chrono::floor<std::chrono::days>(now)};
  const int this_year = static_cast<int>(today.year());
  int year = this_year - this_year % 100 + *two_digit_year;
  if (year > this_year + 50) year -= 100;
  date.day = *day;
  date.year = year;
  return date;
}

// Obsolete asctime: "Sun Nov  6 08:49:37 1994" (a one-digit day is padded with a space).
std::optional<DateTime> parse_asctime(std::string_view text) {
  Scanner in(text);
  DateTime date;
  if (!in.one_of(kShortDays) || !in.literal(" ") || !in.one_of(kMonths, &date.month) || !in.literal(" ")) {
    return std::nullopt;
  }
  std::optional<int> day;
  if (in.literal(" ")) {
    day = in.digits(1);
  } else {
    day = in.digits(2);
  }
  if (!day || !in.literal(" ") || !in.time_of_day(date.hour, date.minute, date.second) || !in.literal(" ")) {
    return std::nullopt;
  }
  std::optional<int> year = in.digits(4);
  if (!year || !in.done()) return std::nullopt;
  date.day = *day;
  date.year = *year;
  return date;
}

std::optional<std::chrono::milliseconds> parse_delay_seconds(std::string_view text) {
  // Far beyond any useful delay, and small enough that the milliseconds cannot overflow.
  constexpr uint64_t kMaxSeconds = uint64_t{1} << 40;
  uint64_t seconds = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    seconds = seconds * 10 + static_cast<uint64_t>(c - '0');
    if (seconds > kMaxSeconds) return std::nullopt;
  }
  return std::chrono::seconds(seconds);
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value, system_clock::time_point now) {
  const std::string_view text = text::trim(value);
  if (text.empty()) return std::nullopt;
  if (text[0] >= '0' && text[0] <= '9') return parse_delay_seconds(text);

  std::optional<DateTime> date = parse_imf_fixdate(text);
  if (!date) date = parse_rfc850(text, now);
  if (!date) date = parse_asctime(text);
  if (!date) return std::nullopt;
  std::optional<system_clock::time_point> when = to_time_point(*date);
  if (!when) return std::nullopt;
  if (*when <= now) return std::chrono::milliseconds(0);
  return std::chrono::ceil<std::chrono::milliseconds>(*when - now);
}

}  // namespace sluice::http
