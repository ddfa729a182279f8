#include "config/loader_text.h"

#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <sstream>

#include "common/text.h"

namespace sluice::config::detail {

std::string join(std::string_view parent, std::string_view name) {
  if (parent.empty()) return std::string(name);
  std::string out;
  out.reserve(parent.size() + 1 + name.size());
  out.append(parent).append(".").append(name);
  return out;
}

std::string quoted(std::string_view text) { return "\"" + std::string(text) + "\""; }

// A key as it stands in a key path: as written when it is a plain name, otherwise quoted and
// escaped, so that "FILE:LINE:COL: key.path: message" stays one readable line whatever a
// mistyped key holds (": ", line breaks, control bytes).
std::string key_in_path(std::string_view name) {
  auto plain_char = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.' || c == '/';
  };
  if (!name.empty() && std::all_of(name.begin(), name.end(), plain_char)) return std::string(name);
  std::string out = "\"";
  text::append_json_escaped(out, name);
  out += '"';
  return out;
}

std::string join_list(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

// Optimal string alignment distance: insertions, deletions, substitutions and swaps of two
// neighbours each cost 1, so "brokres" is 1 away from "brokers". Keeps three rows of the
// table, not all of it: an unknown key is compared with every key that could stand there.
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> before_previous(b.size() + 1), previous(b.size() + 1), current(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) previous[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        current[j] = std::min(current[j], before_previous[j - 2] + 1);
      }
    }
    std::swap(before_previous, previous);
    std::swap(previous, current);
  }
  return previous[b.size()];
}

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "the value " + quoted(node.Scalar());
    default:
      return "nothing";
  }
}

std::string expected(const KeyRow& row) {
  switch (row.type) {
    case KeyType::String:
      return "a string";
    case KeyType::Int:
      return "an integer";
    case KeyType::Bool:
      return "true or false";
    case KeyType::Duration:
      return "a duration such as 10s";
    case KeyType::Enum:
      return "one of: " + join_list(row.allowed);
    case KeyType::StringList:
      return "a list of strings";
    case KeyType::DurationList:
      return "a list of durations such as [10s, 1m]";
    case KeyType::StringMap:
      return "a map of names to values";
    case KeyType::ObjectList:
      return "a list of maps";
    case KeyType::Object:
      return "a map";
  }
  return "?";
}

// Where each of the first `limit` documents of `yaml` has its root node (what
// YAML::Node::Mark() would say). Throws YAML::Exception on a syntax error in them.
std::vector<YAML::Mark> document_marks(std::string_view yaml, size_t limit) {
  class RootMarks : public YAML::EventHandler {
   public:
    std::vector<YAML::Mark> marks;
    void OnDocumentStart(const YAML::Mark&) override { in_root_ = true; }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { node(mark); }
    void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { node(mark); }
    void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t, const std::string&) override {
      node(mark);
    }
    void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
      node(mark);
    }
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
      node(mark);
    }
    void OnMapEnd() override {}

   private:
    void node(const YAML::Mark& mark) {
      if (in_root_) marks.push_back(mark);
      in_root_ = false;
    }
    bool in_root_ = false;
  };
  std::istringstream stream{std::string(yaml)};
  YAML::Parser parser(stream);
  RootMarks handler;
  while (handler.marks.size() < limit && parser.HandleNextDocument(handler)) {
  }
  return handler.marks;
}

std::string format_range(const KeyRow& row) {
  if (row.type == KeyType::Duration) {
    return text::format_duration(Duration(row.min)) + ".." + text::format_duration(Duration(row.max));
  }
  return std::to_string(row.min) + ".." + std::to_string(row.max);
}

}  // namespace sluice::config::detail
