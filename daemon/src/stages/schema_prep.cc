#include "stages/schema_prep.h"

#include <set>
#include <span>
#include <string_view>
#include <utility>

#include "stages/json_pointer.h"
#include "stages/schema_refs.h"
#include "stages/std_regex.h"

namespace sluice::stages {

namespace {

using NodeId = FormatPlan::NodeId;
constexpr NodeId kNone = FormatPlan::kNone;

std::string_view view_of(const json::Value& value) { return {value.GetString(), value.GetStringLength()}; }

// `object`'s members, which RapidJSON keeps in one array. Walked as a span rather than with
// RapidJSON's member iterators: comparing those on a non-const object is ambiguous under
// C++20's rewritten operators (clang warns), and this pass edits the schema, so it is not const.
auto members_of(json::Value& object) { return std::span(object.MemberBegin().operator->(), object.MemberCount()); }

// The value of `object`'s first member named `name`, or nullptr.
json::Value* member_value(json::Value& object, std::string_view name) {
  for (auto& member : members_of(object)) {
    if (view_of(member.name) == name) return &member.value;
  }
  return nullptr;
}

// Restores a JSON pointer to its previous length when a walk step returns.
class PointerScope {
 public:
  PointerScope(std::string& pointer, std::string_view token) : pointer_(pointer), size_(pointer.size()) {
    append_pointer_token(pointer_, token);
  }
  PointerScope(std::string& pointer, std::string_view token, size_t index) : PointerScope(pointer, token) {
    append_pointer_token(pointer_, std::to_string(index));
  }
  ~PointerScope() { pointer_.resize(size_); }
  PointerScope(const PointerScope&) = delete;
  PointerScope& operator=(const PointerScope&) = delete;

 private:
  std::string& pointer_;
  size_t size_;
};

// Counts one more level of nesting while a visit runs.
class NestingScope {
 public:
  explicit NestingScope(size_t& depth) : depth_(depth) { ++depth_; }
  ~NestingScope() { --depth_; }
  NestingScope(const NestingScope&) = delete;
  NestingScope& operator=(const NestingScope&) = delete;

 private:
  size_t& depth_;
};

// Keywords whose object value is one subschema that applies conditionally or to something
// other than the value itself; formats inside cannot be asserted by a plain walk.
constexpr std::string_view kUnfollowedSchemaKeywords[] = {"not",      "if",       "then",         "else",
                                                          "contains", "additionalItems", "propertyNames"};
// Keywords whose array value is a list of subschemas that need not all hold.
constexpr std::string_view kUnfollowedSchemaLists[] = {"anyOf", "oneOf"};
// Keywords whose object value maps names to subschemas reached only by reference or condition.
constexpr std::string_view kUnfollowedSchemaMaps[] = {"definitions", "$defs", "dependencies"};

class Preparer {
 public:
  PreparedSchema run(json::Value& schema) {
    std::string pointer;
    NodeId root = visit(schema, pointer, true);
    result_.formats = FormatPlan(std::move(nodes_), root);
    return std::move(result_);
  }

 private:
  // Walks one subschema. `followed`: whether a format here applies unconditionally to a value
  // the plan can reach. Returns the plan node, or kNone when nothing below is asserted.
  NodeId visit(json::Value& schema, std::string& pointer, bool followed) {
    if (!schema.IsObject()) return kNone;  // boolean schemas; anything else is valijson's to judge
    // The reference check bounds what validation applies; this walk also enters `definitions`
    // nothing refers to, so it keeps its own bound.
    if (depth_ > kMaxSchemaNesting) {
      if (!too_deep_) {
        result_.errors.push_back(pointer + ": subschemas nested more than " + std::to_string(kMaxSchemaNesting) +
                                 " levels deep");
      }
      too_deep_ = true;
      return kNone;
    }
    NestingScope deeper(depth_);
    FormatPlan::Node node;

    take_formats(schema, pointer, followed, node);

    json::Value* pattern = member_value(schema, "pattern");
    if (pattern != nullptr && pattern->IsString()) {
      PointerScope scope(pointer, "pattern");
      check_regex(pointer, view_of(*pattern));
    }

    bool has_pattern_properties = false;
    json::Value* pattern_properties = member_value(schema, "patternProperties");
    if (pattern_properties != nullptr && pattern_properties->IsObject()) {
      has_pattern_properties = true;
      PointerScope scope(pointer, "patternProperties");
      result_.warnings.push_back(pointer +
                                 ": patternProperties regexes are compiled again for every message by this "
                                 "validator; prefer properties on busy topics");
      for (auto& member : members_of(*pattern_properties)) {
        PointerScope member_scope(pointer, view_of(member.name));
        check_regex(pointer, view_of(member.name));
        visit(member.value, pointer, false);
      }
    }

    json::Value* properties = member_value(schema, "properties");
    if (properties != nullptr && properties->IsObject()) {
      PointerScope scope(pointer, "properties");
      for (auto& member : members_of(*properties)) {
        PointerScope member_scope(pointer, view_of(member.name));
        NodeId child = visit(member.value, pointer, followed);
        node.properties.emplace_back(std::string(view_of(member.name)), child);
      }
    }

    json::Value* additional = member_value(schema, "additionalProperties");
    if (additional != nullptr) {
      PointerScope scope(pointer, "additionalProperties");
      // With patternProperties present, which members additionalProperties covers depends on
      // regexes the plan does not evaluate.
      node.other_properties = visit(*additional, pointer, followed && !has_pattern_properties);
    }

    json::Value* items = member_value(schema, "items");
    if (items != nullptr) {
      if (items->IsArray()) {
        bool any = false;
        for (rapidjson::SizeType i = 0; i < items->Size(); ++i) {
          PointerScope scope(pointer, "items", i);
          NodeId child = visit((*items)[i], pointer, followed);
          node.tuple_items.push_back(child);
          any = any || child != kNone;
        }
        if (!any) node.tuple_items.clear();
      } else {
        PointerScope scope(pointer, "items");
        node.items = visit(*items, pointer, followed);
      }
    }

    json::Value* all_of = member_value(schema, "allOf");
    if (all_of != nullptr && all_of->IsArray()) {
      for (rapidjson::SizeType i = 0; i < all_of->Size(); ++i) {
        PointerScope scope(pointer, "allOf", i);
        NodeId branch = visit((*all_of)[i], pointer, followed);
        if (branch != kNone) node.all_of.push_back(branch);
      }
    }

    visit_unfollowed(schema, pointer);

    // A property without checks only matters while additionalProperties has some.
    if (node.other_properties == kNone) {
      std::erase_if(node.properties, [](const auto& property) { return property.second == kNone; });
    }
    bool has_checks = !node.formats.empty() || !node.all_of.empty() || !node.properties.empty() ||
                      node.other_properties != kNone || node.items != kNone || !node.tuple_items.empty();
    if (!has_checks) return kNone;
    nodes_.push_back(std::move(node));
    return static_cast<NodeId>(nodes_.size() - 1);
  }

  void visit_unfollowed(json::Value& schema, std::string& pointer) {
    for (std::string_view keyword : kUnfollowedSchemaKeywords) {
      json::Value* found = member_value(schema, keyword);
      if (found == nullptr) continue;
      PointerScope scope(pointer, keyword);
      visit(*found, pointer, false);
    }
    for (std::string_view keyword : kUnfollowedSchemaLists) {
      json::Value* found = member_value(schema, keyword);
      if (found == nullptr || !found->IsArray()) continue;
      for (rapidjson::SizeType i = 0; i < found->Size(); ++i) {
        PointerScope scope(pointer, keyword, i);
        visit((*found)[i], pointer, false);
      }
    }
    for (std::string_view keyword : kUnfollowedSchemaMaps) {
      json::Value* found = member_value(schema, keyword);
      if (found == nullptr || !found->IsObject()) continue;
      PointerScope scope(pointer, keyword);
      for (auto& member : members_of(*found)) {
        PointerScope member_scope(pointer, view_of(member.name));
        visit(member.value, pointer, false);  // dependencies may also hold arrays of names: skipped
      }
    }
  }

  // Removes every `format` member of this schema object (a repeated key too).
  void take_formats(json::Value& schema, std::string& pointer, bool followed, FormatPlan::Node& node) {
    for (json::Value* found = member_value(schema, "format"); found != nullptr;
         found = member_value(schema, "format")) {
      if (found->IsString()) {
        std::string_view name = view_of(*found);
        PointerScope scope(pointer, "format");
        if (auto format = parse_format_name(name)) {
          if (followed) {
            node.formats.push_back(*format);
          } else {
            result_.warnings.push_back(pointer + ": format '" + std::string(name) +
                                       "' is not asserted here (formats are checked under properties, "
                                       "additionalProperties, items and allOf only)");
          }
        } else if (unknown_formats_.insert(std::string(name)).second) {
          result_.warnings.push_back(pointer + ": unknown format '" + std::string(name) +
                                     "' is treated as an annotation and not checked");
        }
      }
      schema.EraseMember("format");  // the first one, which is `found`
    }
  }

  void check_regex(const std::string& pointer, std::string_view pattern) {
    try {
      std::regex compiled{std::string(pattern)};
    } catch (const std::regex_error& e) {
      result_.errors.push_back(pointer + ": not a valid regular expression (" + e.what() + ")");
    }
  }

  std::vector<FormatPlan::Node> nodes_;
  PreparedSchema result_;
  std::set<std::string, std::less<>> unknown_formats_;
  size_t depth_ = 0;
  bool too_deep_ = false;
};

}  // namespace

PreparedSchema prepare_schema(json::Value& schema) { return Preparer().run(schema); }

}  // namespace sluice::stages
