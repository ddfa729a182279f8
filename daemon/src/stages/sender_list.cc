#include "stages/sender_list.h"

#include <cstdint>

#include "common/text.h"
#include "common/text_file.h"

namespace sluice::stages {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

// FNV-1a; the folded variant hashes the lowercased bytes so that FoldedEqual-equal strings
// hash alike.
template <bool kFold>
size_t fnv1a(std::string_view text) {
  uint64_t hash = 14695981039346656037ull;
  for (char c : text) {
    hash ^= static_cast<unsigned char>(kFold ? text::ascii_lower(c) : c);
    hash *= 1099511628211ull;
  }
  return static_cast<size_t>(hash);
}

}  // namespace

size_t SenderList::Hash::operator()(std::string_view text) const { return fnv1a<false>(text); }
size_t SenderList::FoldedHash::operator()(std::string_view text) const { return fnv1a<true>(text); }

bool SenderList::FoldedEqual::operator()(std::string_view a, std::string_view b) const {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (text::ascii_lower(a[i]) != text::ascii_lower(b[i])) return false;
  }
  return true;
}

SenderList::SenderList(const std::vector<std::string>& senders) {
  for (const std::string& sender : senders) {
    exact_.insert(sender);
    folded_.insert(sender);
  }
}

bool SenderList::contains(std::string_view sender) const { return exact_.find(sender) != exact_.end(); }

bool SenderList::contains_ignoring_case(std::string_view sender) const {
  return folded_.find(sender) != folded_.end();
}

std::vector<std::string> parse_sender_lines(std::string_view text, const std::string& source_name,
                                            std::vector<std::string>& errors) {
  std::vector<std::string> senders;
  size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);

    // A comment starts at a `#` that opens the line or follows whitespace; a `#` inside a
    // sender (legal in an email local part) is kept.
    for (size_t i = 0; i < line.size(); ++i) {
      if (line[i] == '#' && (i == 0 || is_space(line[i - 1]))) {
        line = line.substr(0, i);
        break;
      }
    }
    size_t leading = 0;
    while (leading < line.size() && is_space(line[leading])) ++leading;
    std::string_view sender = text::trim(line);
    if (sender.empty()) continue;
    size_t inner_space = 0;
    while (inner_space < sender.size() && !is_space(sender[inner_space])) ++inner_space;
    if (inner_space < sender.size()) {
      // Columns count UTF-8 characters, as editors do.
      size_t column = 1;
      for (size_t i = 0; i < leading + inner_space; ++i) column += (static_cast<unsigned char>(line[i]) & 0xC0) != 0x80;
      errors.push_back(source_name + ':' + std::to_string(line_number) + ':' + std::to_string(column) +
                       ": whitespace inside a sender (one sender per line)");
    }
    senders.emplace_back(sender);
  }
  return senders;
}

std::shared_ptr<const SenderList> load_sender_list(const std::string& path, std::vector<std::string>& errors) {
  if (path.empty()) return std::make_shared<const SenderList>();
  std::string text;
  std::string read_error;
  if (!read_text_file(path, kMaxBlockedSendersFileBytes, text, read_error)) {
    errors.push_back(path + ": cannot read blocked senders file: " + read_error);
    return nullptr;
  }
  size_t errors_before = errors.size();
  std::vector<std::string> senders = parse_sender_lines(text, path, errors);
  if (errors.size() != errors_before) return nullptr;
  return std::make_shared<const SenderList>(senders);
}

}  // namespace sluice::stages
