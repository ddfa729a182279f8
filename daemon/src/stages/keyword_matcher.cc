#include "stages/keyword_matcher.h"

#include <algorithm>
#include <deque>
#include <limits>

#include "common/assert.h"
#include "common/text.h"

namespace sluice::stages {

namespace {
constexpr uint32_t kNoState = std::numeric_limits<uint32_t>::max();
constexpr uint32_t kNoKeyword = std::numeric_limits<uint32_t>::max();
}  // namespace

KeywordMatcher::KeywordMatcher(const std::vector<std::string>& keywords) {
  for (const std::string& keyword : keywords) {
    if (keyword.empty()) continue;
    keywords_.push_back(keyword);
    max_keyword_length_ = std::max(max_keyword_length_, keyword.size());
  }
  if (keywords_.empty()) return;

  // Columns: one per distinct folded byte that occurs in a keyword, 0 for all others.
  class_count_ = 1;
  for (const std::string& keyword : keywords_) {
    for (char c : keyword) {
      auto folded = static_cast<unsigned char>(text::ascii_lower(c));
      if (byte_class_[folded] == 0) byte_class_[folded] = static_cast<uint8_t>(class_count_++);
    }
  }
  for (int upper = 'A'; upper <= 'Z'; ++upper) byte_class_[upper] = byte_class_[upper + ('a' - 'A')];

  // The trie, with kNoState for missing edges.
  std::vector<uint32_t> trie(class_count_, kNoState);
  state_keyword_.assign(1, kNoKeyword);
  for (size_t k = 0; k < keywords_.size(); ++k) {
    uint32_t state = 0;
    for (char c : keywords_[k]) {
      uint32_t column = byte_class_[static_cast<unsigned char>(c)];
      uint32_t& next = trie[state * class_count_ + column];
      if (next == kNoState) {
        next = static_cast<uint32_t>(state_keyword_.size());
        state_keyword_.push_back(kNoKeyword);
        trie.resize(trie.size() + class_count_, kNoState);
      }
      state = trie[state * class_count_ + column];  // `next` may dangle after the resize
    }
    if (state_keyword_[state] == kNoKeyword) state_keyword_[state] = static_cast<uint32_t>(k);
  }
  size_t states = state_keyword_.size();
  SLUICE_ASSERT(states * class_count_ < kAcceptBit, "keyword table too large; the loader bounds keyword bytes");

  // Breadth-first: each state's missing edges take its failure state's (already complete)
  // row, and a state where no keyword ends inherits the keyword ending at its failure state.
  transitions_.assign(states * class_count_, 0);
  std::vector<uint32_t> failure(states, 0);
  std::deque<uint32_t> queue;
  for (uint32_t column = 0; column < class_count_; ++column) {
    uint32_t child = trie[column];
    if (child == kNoState) {
      transitions_[column] = 0;
    } else {
      transitions_[column] = child;
      failure[child] = 0;
      queue.push_back(child);
    }
  }
  while (!queue.empty()) {
    uint32_t state = queue.front();
    queue.pop_front();
    if (state_keyword_[state] == kNoKeyword) state_keyword_[state] = state_keyword_[failure[state]];
    for (uint32_t column = 0; column < class_count_; ++column) {
      uint32_t child = trie[state * class_count_ + column];
      uint32_t fallback = transitions_[failure[state] * class_count_ + column];
      if (child == kNoState) {
        transitions_[state * class_count_ + column] = fallback;
      } else {
        transitions_[state * class_count_ + column] = child;
        failure[child] = fallback;
        queue.push_back(child);
      }
    }
  }

  // Turn state numbers into row starts and mark the accepting targets.
  for (uint32_t& target : transitions_) {
    uint32_t row = target * class_count_;
    target = row | (state_keyword_[target] != kNoKeyword ? kAcceptBit : 0);
  }
}

KeywordMatcher::Match KeywordMatcher::match_at(uint32_t target, size_t end) const {
  uint32_t state = (target & ~kAcceptBit) / class_count_;
  return Match{state_keyword_[state], end};
}

std::optional<KeywordMatcher::Match> KeywordMatcher::scan(std::string_view text, size_t begin, size_t end,
                                                          uint32_t& row) const {
  const uint32_t* table = transitions_.data();
  for (size_t i = begin; i < end; ++i) {
    uint32_t target = table[row + byte_class_[static_cast<unsigned char>(text[i])]];
    if (target & kAcceptBit) return match_at(target, i + 1);
    row = target;
  }
  return std::nullopt;
}

// Each step of one scan waits for the previous table load, so a single scan runs at load
// latency. Long texts are scanned as two halves in lockstep, which overlaps the two chains of
// loads. The second half starts max_keyword_length_ - 1 bytes early, from the root state, so
// it sees every match whose last byte lies in it; the first half sees every match that ends
// in it. A hit in the second half is only final once the first half has reached its end.
std::optional<KeywordMatcher::Match> KeywordMatcher::find_first(std::string_view text) const {
  if (keywords_.empty()) return std::nullopt;
  uint32_t row0 = 0;
  size_t overlap = max_keyword_length_ - 1;
  if (text.size() < 2 * overlap + kMinSplitBytes) return scan(text, 0, text.size(), row0);

  const uint32_t* table = transitions_.data();
  size_t half = text.size() / 2;
  size_t start1 = half - overlap;  // the second half covers [start1, size)
  uint32_t row1 = 0;
  for (size_t i = 0; i < half; ++i) {
    uint32_t target0 = table[row0 + byte_class_[static_cast<unsigned char>(text[i])]];
    uint32_t target1 = table[row1 + byte_class_[static_cast<unsigned char>(text[start1 + i])]];
    if ((target0 | target1) & kAcceptBit) {
      if (target0 & kAcceptBit) return match_at(target0, i + 1);  // ends first: i < start1 + i
      // The second half's match ends at start1 + i + 1; the first half may still find one
      // ending no later (a tie goes to the first half, as a single scan would report it).
      Match later = match_at(target1, start1 + i + 1);
      row0 = target0;
      auto sooner = scan(text, i + 1, std::min(half, later.end), row0);
      return sooner ? *sooner : later;
    }
    row0 = target0;
    row1 = target1;
  }
  return scan(text, start1 + half, text.size(), row1);
}

}  // namespace sluice::stages
