#pragma once
// Finds any of a fixed set of keywords in a text in one pass (Aho–Corasick compiled into a
// dense DFA), ignoring ASCII case. Bytes outside A–Z/a–z, including every non-ASCII byte,
// match only themselves.
//
// The table has one row per trie node and one column per distinct (case-folded) keyword
// byte, plus a column for every other byte, so memory is about
// (total keyword bytes) × (distinct keyword bytes) × 4 bytes: a few KiB for the default five
// keywords, a few MiB for a thousand. Scanning costs one table load per text byte whatever
// the keyword count; long texts are scanned as two interleaved halves (see find_first).
//
// Threading: immutable after construction; shared by every worker.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::stages {

class KeywordMatcher {
 public:
  // Empty keywords are dropped (one would match every text); keyword(i) lists the rest.
  explicit KeywordMatcher(const std::vector<std::string>& keywords);

  struct Match {
    size_t keyword = 0;  // index for keyword()
    size_t end = 0;      // byte offset just past the match in the text
  };
  // The match that ends first in `text`; nullopt when no keyword occurs.
  std::optional<Match> find_first(std::string_view text) const;
  bool contains_any(std::string_view text) const { return find_first(text).has_value(); }

  bool empty() const { return keywords_.empty(); }
  size_t keyword_count() const { return keywords_.size(); }
  const std::string& keyword(size_t index) const { return keywords_[index]; }
  size_t state_count() const { return class_count_ == 0 ? 0 : transitions_.size() / class_count_; }

 private:
  // A transition is the start of the target state's row; this bit marks targets where a
  // keyword ends, so the scan loop tests one value per byte.
  static constexpr uint32_t kAcceptBit = 0x80000000u;
  // Below this many bytes beyond twice the overlap, one scan is as fast as two halves.
  static constexpr size_t kMinSplitBytes = 32;

  Match match_at(uint32_t target, size_t end) const;
  // Runs text[begin, end) from `row`; stops at the first accepting target.
  std::optional<Match> scan(std::string_view text, size_t begin, size_t end, uint32_t& row) const;

  std::vector<std::string> keywords_;
  size_t max_keyword_length_ = 0;
  std::array<uint8_t, 256> byte_class_{};  // column of each byte; 0 for bytes in no keyword
  uint32_t class_count_ = 0;
  std::vector<uint32_t> transitions_;      // row-major, class_count_ columns
  std::vector<uint32_t> state_keyword_;    // per state: the keyword that ends there
};

}  // namespace sluice::stages
