#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <vector>

#include "stages/keyword_matcher.h"

using namespace sluice::stages;

namespace {

const std::vector<std::string> kDefaultKeywords = {"free money", "click here", "urgent action required",
                                                   "congratulations you won", "act now"};

}  // namespace

TEST_CASE("keyword matcher finds a keyword anywhere and reports which", "[stages][keywords]") {
  KeywordMatcher matcher(kDefaultKeywords);
  auto match = matcher.find_first("Hello, please click here to claim");
  REQUIRE(match);
  CHECK(matcher.keyword(match->keyword) == "click here");
  CHECK(match->end == std::string("Hello, please click here").size());

  auto at_start = matcher.find_first("act now or never");
  REQUIRE(at_start);
  CHECK(matcher.keyword(at_start->keyword) == "act now");
  CHECK(at_start->end == 7);

  auto at_end = matcher.find_first("you should act now");
  REQUIRE(at_end);
  CHECK(at_end->end == std::string("you should act now").size());

  CHECK(matcher.find_first("free money"));  // the whole text
}

TEST_CASE("keyword matcher ignores ASCII case in text and keywords", "[stages][keywords]") {
  KeywordMatcher matcher({"Free Money", "click HERE"});
  CHECK(matcher.contains_any("get FREE MONEY today"));
  CHECK(matcher.contains_any("get free money today"));
  CHECK(matcher.contains_any("Click Here"));
  CHECK_FALSE(matcher.contains_any("free-money"));
}

TEST_CASE("keyword matcher matches non-ASCII bytes exactly", "[stages][keywords]") {
  KeywordMatcher matcher({"\xc3\xa9t\xc3\xa9 gratuit"});  // "été gratuit"
  CHECK(matcher.contains_any("un \xc3\xa9t\xc3\xa9 GRATUIT"));
  CHECK_FALSE(matcher.contains_any("un \xc3\x89T\xc3\x89 gratuit"));  // "ÉTÉ": not folded
}

TEST_CASE("keyword matcher gives no false positives on near misses", "[stages][keywords]") {
  KeywordMatcher matcher(kDefaultKeywords);
  CHECK_FALSE(matcher.contains_any("Hi Bob, please find attached the Q3 report. Thanks, Alice"));
  CHECK_FALSE(matcher.contains_any("free mone"));
  CHECK_FALSE(matcher.contains_any("act no"));
  CHECK_FALSE(matcher.contains_any("clickhere"));
  CHECK_FALSE(matcher.contains_any("congratulations you wo"));
  CHECK_FALSE(matcher.contains_any(""));
}

TEST_CASE("keyword matcher handles overlapping keywords and failure links", "[stages][keywords]") {
  // "she" ends inside "ushers"; "he" is a suffix of "she"; "hers" shares "he".
  KeywordMatcher matcher({"he", "she", "his", "hers"});
  auto match = matcher.find_first("ushers");
  REQUIRE(match);
  CHECK(match->end == 4);  // "she" and "he" both end at byte 4
  CHECK((matcher.keyword(match->keyword) == "she" || matcher.keyword(match->keyword) == "he"));

  // A partial match of a long keyword must fall back to a shorter one inside it.
  KeywordMatcher nested({"abcdef", "cde"});
  auto inner = nested.find_first("xxabcdxx abcde");
  REQUIRE(inner);
  CHECK(nested.keyword(inner->keyword) == "cde");
  CHECK(inner->end == std::string("xxabcdxx abcde").size());

  KeywordMatcher repeated({"aab"});
  CHECK(repeated.contains_any("aaab"));  // restart inside a run of the first letter
  CHECK_FALSE(repeated.contains_any("abab"));
}

TEST_CASE("keyword matcher with no keywords or empty ones matches nothing", "[stages][keywords]") {
  KeywordMatcher none({});
  CHECK(none.empty());
  CHECK_FALSE(none.contains_any("anything at all"));
  KeywordMatcher blanks({"", "spam"});
  CHECK(blanks.keyword_count() == 1);
  CHECK_FALSE(blanks.contains_any("ham"));
  CHECK(blanks.contains_any("SPAM"));
}

namespace {

// Byte offset just past the earliest-ending occurrence of any keyword, ignoring ASCII case.
std::optional<size_t> naive_first_end(const std::vector<std::string>& keywords, const std::string& text) {
  auto lower = [](std::string s) {
    for (char& c : s) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    }
    return s;
  };
  std::string haystack = lower(text);
  std::optional<size_t> first;
  for (const std::string& keyword : keywords) {
    size_t at = haystack.find(lower(keyword));
    if (at != std::string::npos && (!first || at + keyword.size() < *first)) first = at + keyword.size();
  }
  return first;
}

// Random keywords and texts over a small alphabet (many shared prefixes, suffixes and near
// misses), texts long enough to take the two-half path; every result is checked naively.
void check_against_naive(const std::string& alphabet, size_t keyword_count, size_t min_keyword,
                         size_t max_keyword, size_t max_text, uint32_t seed) {
  auto next = [&seed] {
    seed = seed * 1103515245u + 12345u;
    return (seed >> 16) & 0x7fff;
  };
  std::vector<std::string> keywords;
  for (size_t k = 0; k < keyword_count; ++k) {
    std::string keyword;
    size_t length = min_keyword + next() % (max_keyword - min_keyword + 1);
    for (size_t i = 0; i < length; ++i) keyword += alphabet[next() % alphabet.size()];
    keywords.push_back(keyword);
  }
  KeywordMatcher matcher(keywords);
  REQUIRE(matcher.keyword_count() == keyword_count);
  size_t hits = 0;
  size_t long_texts = 0;
  constexpr int kTexts = 3000;
  for (int t = 0; t < kTexts; ++t) {
    std::string text;
    size_t length = next() % (max_text + 1);
    for (size_t i = 0; i < length; ++i) text += alphabet[next() % alphabet.size()];
    long_texts += length > 2 * max_keyword + 32;
    std::optional<size_t> expected = naive_first_end(keywords, text);
    auto match = matcher.find_first(text);
    INFO(text);
    REQUIRE(match.has_value() == expected.has_value());
    if (!match) continue;
    ++hits;
    REQUIRE(match->end == *expected);
    // The reported keyword really ends there.
    const std::string& keyword = matcher.keyword(match->keyword);
    REQUIRE(match->end >= keyword.size());
    REQUIRE(naive_first_end({keyword}, text.substr(match->end - keyword.size(), keyword.size())));
  }
  CHECK(hits > kTexts / 10);
  CHECK(hits < kTexts);
  CHECK(long_texts > kTexts / 4);
}

}  // namespace

TEST_CASE("keyword matcher agrees with a naive search for many keywords", "[stages][keywords]") {
  check_against_naive("abcAB ", 200, 2, 7, 120, 12345);
  check_against_naive("abcdefghIJ", 50, 3, 8, 400, 777);
  check_against_naive("xyXY", 5, 6, 23, 300, 4242);
}
