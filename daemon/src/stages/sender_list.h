#pragma once
// The blocked senders: a set of sender ids, looked up exactly (WhatsApp ids) or ignoring
// ASCII case (email addresses), without allocating.
//
// File format: one sender per line; surrounding whitespace is ignored, as are blank lines,
// lines starting with `#`, and a trailing comment after whitespace ("a@b.example  # why").
// A sender with whitespace inside is an error.
//
// Threading: immutable after construction; shared by every worker.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace sluice::stages {

class SenderList {
 public:
  SenderList() = default;
  explicit SenderList(const std::vector<std::string>& senders);

  bool contains(std::string_view sender) const;
  bool contains_ignoring_case(std::string_view sender) const;
  bool empty() const { return exact_.empty(); }
  size_t size() const { return exact_.size(); }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view text) const;
  };
  struct FoldedHash {
    using is_transparent = void;
    size_t operator()(std::string_view text) const;
  };
  struct FoldedEqual {
    using is_transparent = void;
    bool operator()(std::string_view a, std::string_view b) const;
  };

  std::unordered_set<std::string, Hash, std::equal_to<>> exact_;
  std::unordered_set<std::string, FoldedHash, FoldedEqual> folded_;
};

// Parses the file text; `source_name` prefixes errors as "SOURCE:LINE:COL: what".
std::vector<std::string> parse_sender_lines(std::string_view text, const std::string& source_name,
                                            std::vector<std::string>& errors);

// The largest blocked-senders file accepted (checked before it is read): a 16 MiB list, about
// half a million addresses, indexes into roughly 200 MB; past that the list belongs in a store
// of its own, not in a file every instance holds in memory.
constexpr size_t kMaxBlockedSendersFileBytes = 16 * 1024 * 1024;

// Reads and parses `path`. An empty path means no blocked senders (an empty list). Returns
// nullptr, with the reasons appended to `errors`, when the file is unreadable or malformed.
std::shared_ptr<const SenderList> load_sender_list(const std::string& path, std::vector<std::string>& errors);

}  // namespace sluice::stages
