#include "stages/schema_refs.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "stages/json_pointer.h"

namespace sluice::stages {

namespace {

std::string_view view_of(const json::Value& value) { return {value.GetString(), value.GetStringLength()}; }

// The value of `object`'s first member named `name`, or nullptr: the member valijson reads
// when a name is repeated.
const json::Value* member_value(const json::Value& object, std::string_view name) {
  for (auto member = object.MemberBegin(); member != object.MemberEnd(); ++member) {
    if (view_of(member->name) == name) return &member->value;
  }
  return nullptr;
}

// A pointer as a reference to it, "#" for the root, as schema authors write them.
std::string as_reference(const std::string& pointer) { return "#" + pointer; }

std::optional<int> hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return std::nullopt;
}

// One reference token as valijson reads it: "~1" and "~0" unescaped first, then %-escapes
// decoded. nullopt for a malformed %-escape.
std::optional<std::string> decode_token(std::string_view raw) {
  std::string unescaped;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '~' && i + 1 < raw.size() && (raw[i + 1] == '1' || raw[i + 1] == '0')) {
      unescaped += raw[i + 1] == '1' ? '/' : '~';
      ++i;
    } else {
      unescaped += raw[i];
    }
  }
  std::string token;
  for (size_t i = 0; i < unescaped.size(); ++i) {
    if (unescaped[i] != '%') {
      token += unescaped[i];
      continue;
    }
    std::optional<int> high = i + 1 < unescaped.size() ? hex_digit(unescaped[i + 1]) : std::nullopt;
    std::optional<int> low = i + 2 < unescaped.size() ? hex_digit(unescaped[i + 2]) : std::nullopt;
    if (!high || !low) return std::nullopt;
    token += static_cast<char>(*high * 16 + *low);
    i += 2;
  }
  return token;
}

std::optional<size_t> array_index(std::string_view token) {
  if (token.empty() || token.size() > 9 || token.find_first_not_of("0123456789") != std::string_view::npos) {
    return std::nullopt;
  }
  return static_cast<size_t>(std::stoul(std::string(token)));
}

// What a reference within the file points at: the value and its pointer, or why nothing.
struct Target {
  const json::Value* value = nullptr;
  std::string pointer;  // canonical: empty tokens dropped, escapes as RFC 6901 writes them
  std::string problem;
};

// Resolves `fragment` (what follows the '#') against `root` as valijson does: tokens between
// slashes, empty ones (a trailing slash, "//") skipped.
Target resolve(const json::Value& root, std::string_view fragment) {
  Target target;
  const json::Value* value = &root;
  size_t at = 0;
  while (at < fragment.size()) {
    if (fragment[at] != '/') {
      target.problem = "is not a JSON pointer (write '#' or '#/...')";
      return target;
    }
    size_t end = std::min(fragment.find('/', at + 1), fragment.size());
    std::string_view raw = fragment.substr(at + 1, end - at - 1);
    at = end;
    if (raw.empty()) continue;
    std::optional<std::string> token = decode_token(raw);
    if (!token) {
      target.problem = "is not a JSON pointer: bad %-escape in '" + std::string(raw) + "'";
      return target;
    }
    const std::string where = target.pointer.empty() ? std::string("the root") : target.pointer;
    if (value->IsArray()) {
      std::optional<size_t> index = array_index(*token);
      if (!index || *index >= value->Size()) {
        target.problem = "points to nothing: " + where + " has no element '" + *token + "'";
        return target;
      }
      value = &(*value)[static_cast<rapidjson::SizeType>(*index)];
    } else if (value->IsObject()) {
      value = member_value(*value, *token);
      if (value == nullptr) {
        target.problem = "points to nothing: " + where + " has no member '" + *token + "'";
        return target;
      }
    } else {
      target.problem = "points to nothing: " + where + " is neither an object nor an array";
      return target;
    }
    append_pointer_token(target.pointer, *token);
  }
  target.value = value;
  return target;
}

// Keywords holding an array of subschemas for the value itself (besides not, if/then/else and
// dependencies).
constexpr std::string_view kSameValueLists[] = {"allOf", "anyOf", "oneOf"};
// Keywords holding one subschema, or a map of names to subschemas, for a member, an element or
// a member name of the value (besides items and additionalItems).
constexpr std::string_view kDescendingSingles[] = {"additionalProperties", "contains", "propertyNames"};
constexpr std::string_view kDescendingMaps[] = {"properties", "patternProperties"};

class ReferenceChecker {
 public:
  explicit ReferenceChecker(const json::Value& root) : root_(root) {}

  std::vector<std::string> run() {
    add_node(root_, std::string(), 0);
    // A walk cut short leaves a partial graph; its one error is the useful answer.
    if (!too_deep_) find_loops();
    return std::move(errors_);
  }

 private:
  static constexpr uint32_t kNoNode = UINT32_MAX;

  struct Edge {
    uint32_t target;
    bool same_value;  // applies to the same value: $ref, allOf, anyOf, oneOf, not, if/then/else, dependencies
  };

  // A subschema object valijson applies, once however often it is reached.
  struct Node {
    std::string pointer;    // where it is in the file
    std::string reference;  // its $ref, when it is one (then valijson reads nothing else of it)
    std::vector<Edge> edges;
  };

  // Adds `schema` and, depth first, everything it applies. Returns its node, or kNoNode for a
  // value with nothing to follow (boolean schemas; other values are valijson's to reject).
  uint32_t add_node(const json::Value& schema, std::string pointer, size_t depth) {
    if (!schema.IsObject() || too_deep_) return kNoNode;
    if (auto known = ids_.find(&schema); known != ids_.end()) return known->second;
    if (depth > kMaxSchemaNesting) {
      report_too_deep(pointer);
      return kNoNode;
    }
    auto id = static_cast<uint32_t>(nodes_.size());
    nodes_.push_back(Node{std::move(pointer), {}, {}});
    ids_.emplace(&schema, id);

    if (const json::Value* reference = member_value(schema, "$ref")) {
      // A $ref that is not a string is valijson's to reject.
      if (reference->IsString()) follow_reference(id, view_of(*reference), depth);
      return id;
    }
    for (std::string_view keyword : kSameValueLists) add_list(id, schema, keyword, true, depth);
    if (const json::Value* condition = member_value(schema, "if")) {
      // valijson reads then and else only next to an if.
      add_child(id, *condition, "if", true, depth);
      for (std::string_view keyword : {"then", "else"}) {
        if (const json::Value* branch = member_value(schema, keyword)) add_child(id, *branch, keyword, true, depth);
      }
    }
    if (const json::Value* negated = member_value(schema, "not")) add_child(id, *negated, "not", true, depth);
    add_map(id, schema, "dependencies", true, depth);  // entries that are arrays name properties: not followed

    for (std::string_view keyword : kDescendingSingles) {
      if (const json::Value* child = member_value(schema, keyword)) add_child(id, *child, keyword, false, depth);
    }
    for (std::string_view keyword : kDescendingMaps) add_map(id, schema, keyword, false, depth);
    if (const json::Value* items = member_value(schema, "items")) {
      if (items->IsArray()) {
        add_list(id, schema, "items", false, depth);
        // valijson reads additionalItems only next to an array of items.
        if (const json::Value* additional = member_value(schema, "additionalItems")) {
          add_child(id, *additional, "additionalItems", false, depth);
        }
      } else {
        add_child(id, *items, "items", false, depth);
      }
    }
    return id;
  }

  void add_child(uint32_t parent, const json::Value& child, std::string_view keyword, bool same_value, size_t depth) {
    std::string pointer = nodes_[parent].pointer;
    append_pointer_token(pointer, keyword);
    link(parent, add_node(child, std::move(pointer), depth + 1), same_value);
  }

  void add_list(uint32_t parent, const json::Value& schema, std::string_view keyword, bool same_value, size_t depth) {
    const json::Value* list = member_value(schema, keyword);
    if (list == nullptr || !list->IsArray()) return;
    for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
      std::string pointer = nodes_[parent].pointer;
      append_pointer_token(pointer, keyword);
      append_pointer_token(pointer, std::to_string(i));
      link(parent, add_node((*list)[i], std::move(pointer), depth + 1), same_value);
    }
  }

  void add_map(uint32_t parent, const json::Value& schema, std::string_view keyword, bool same_value, size_t depth) {
    const json::Value* map = member_value(schema, keyword);
    if (map == nullptr || !map->IsObject()) return;
    for (auto member = map->MemberBegin(); member != map->MemberEnd(); ++member) {
      std::string pointer = nodes_[parent].pointer;
      append_pointer_token(pointer, keyword);
      append_pointer_token(pointer, view_of(member->name));
      link(parent, add_node(member->value, std::move(pointer), depth + 1), same_value);
    }
  }

  void follow_reference(uint32_t id, std::string_view reference, size_t depth) {
    nodes_[id].reference = reference;
    std::string at = nodes_[id].pointer + "/$ref: '" + std::string(reference) + "' ";
    if (reference.empty() || reference.front() != '#') {
      // Fetching is off, and at the root valijson would resolve a relative URI against this
      // very file, so "other.json#/x" would quietly mean "#/x" and "other.json" a loop.
      errors_.push_back(at + "points into another document; only references within the file ('#/...') are supported");
      return;
    }
    Target target = resolve(root_, reference.substr(1));
    if (target.value == nullptr) {
      errors_.push_back(at + target.problem);
      return;
    }
    link(id, add_node(*target.value, std::move(target.pointer), depth + 1), true);
  }

  void link(uint32_t from, uint32_t to, bool same_value) {
    if (to != kNoNode) nodes_[from].edges.push_back(Edge{to, same_value});
  }

  // Loops among same-value edges, depth first from every node, each reported once at the edge
  // that closes it.
  void find_loops() {
    state_.assign(nodes_.size(), State::Unvisited);
    for (uint32_t id = 0; id < nodes_.size() && !too_deep_; ++id) {
      if (state_[id] == State::Unvisited) walk_same_value(id, 0);
    }
  }

  void walk_same_value(uint32_t id, size_t depth) {
    state_[id] = State::OnPath;
    path_.push_back(id);
    for (const Edge& edge : nodes_[id].edges) {
      if (!edge.same_value || too_deep_) continue;
      if (state_[edge.target] == State::OnPath) {
        report_loop(edge.target);
      } else if (state_[edge.target] == State::Unvisited) {
        if (depth + 1 > kMaxSchemaNesting) {
          report_too_deep(nodes_[edge.target].pointer);
          continue;
        }
        walk_same_value(edge.target, depth + 1);
      }
    }
    path_.pop_back();
    state_[id] = State::Done;
  }

  // The loop runs along path_ from `start` to its end and back to `start`. Named after its
  // last $ref (keywords alone only nest, so every loop has one).
  void report_loop(uint32_t start) {
    auto first = std::find(path_.begin(), path_.end(), start);
    std::string chain;
    std::string closing_reference;
    for (auto it = first; it != path_.end(); ++it) {
      chain += as_reference(nodes_[*it].pointer) + " -> ";
      if (!nodes_[*it].reference.empty()) closing_reference = nodes_[*it].pointer + "/$ref";
    }
    chain += as_reference(nodes_[start].pointer);
    errors_.push_back(closing_reference + ": reference loop that never descends into a property or an item: " + chain);
  }

  // Stops both walks: what is left of the graph would only repeat the point.
  void report_too_deep(const std::string& pointer) {
    errors_.push_back(pointer + ": subschemas and references nested more than " + std::to_string(kMaxSchemaNesting) +
                      " levels deep");
    too_deep_ = true;
  }

  enum class State : uint8_t { Unvisited, OnPath, Done };

  const json::Value& root_;
  std::vector<Node> nodes_;
  std::unordered_map<const json::Value*, uint32_t> ids_;
  std::vector<std::string> errors_;
  bool too_deep_ = false;
  std::vector<State> state_;
  std::vector<uint32_t> path_;
};

}  // namespace

std::vector<std::string> check_schema_references(const json::Value& schema) { return ReferenceChecker(schema).run(); }

}  // namespace sluice::stages
