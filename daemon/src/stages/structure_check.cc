#include "stages/structure_check.h"

#include <cstring>
#include <string_view>

namespace sluice::stages {

namespace {

constexpr uint8_t kTypeNull = 1 << 0;
constexpr uint8_t kTypeBoolean = 1 << 1;
constexpr uint8_t kTypeObject = 1 << 2;
constexpr uint8_t kTypeArray = 1 << 3;
constexpr uint8_t kTypeNumber = 1 << 4;
constexpr uint8_t kTypeInteger = 1 << 5;
constexpr uint8_t kTypeString = 1 << 6;

std::string_view view(const json::Value& string) { return {string.GetString(), string.GetStringLength()}; }

// 0 for a name that is not a draft-07 type.
uint8_t type_bit(std::string_view name) {
  if (name == "null") return kTypeNull;
  if (name == "boolean") return kTypeBoolean;
  if (name == "object") return kTypeObject;
  if (name == "array") return kTypeArray;
  if (name == "number") return kTypeNumber;
  if (name == "integer") return kTypeInteger;
  if (name == "string") return kTypeString;
  return 0;
}

// Keywords that assert nothing.
bool is_annotation(std::string_view keyword) {
  return keyword == "title" || keyword == "description" || keyword == "$comment" || keyword == "$schema" ||
         keyword == "$id" || keyword == "default" || keyword == "examples" || keyword == "readOnly" ||
         keyword == "writeOnly";
}

}  // namespace

// Builds the nodes depth first; any unsupported keyword or form makes the whole schema
// unsupported.
class StructureCheck::Compiler {
 public:
  explicit Compiler(std::vector<Node>& nodes) : nodes_(nodes) {}

  std::optional<NodeId> add(const json::Value& schema) {
    auto id = static_cast<NodeId>(nodes_.size());
    nodes_.emplace_back();
    if (schema.IsBool()) {
      nodes_[id].rejects_everything = !schema.GetBool();
      return id;
    }
    if (!schema.IsObject() || has_duplicate_names(schema)) return std::nullopt;
    for (auto member = schema.MemberBegin(); member != schema.MemberEnd(); ++member) {
      std::string_view keyword = view(member->name);
      const json::Value& value = member->value;
      if (is_annotation(keyword)) continue;
      bool supported = false;
      if (keyword == "type") {
        supported = read_types(value, id);
      } else if (keyword == "required") {
        supported = read_required(value, id);
      } else if (keyword == "properties") {
        supported = read_properties(value, id);
      } else if (keyword == "additionalProperties") {
        supported = value.IsBool();
        if (supported) nodes_[id].additional_allowed = value.GetBool();
      } else if (keyword == "const") {
        supported = add_literal(value, id);
      } else if (keyword == "enum") {
        supported = read_enum(value, id);
      } else if (keyword == "items") {
        // The tuple form (an array of schemas) is left to valijson.
        std::optional<NodeId> items = (value.IsObject() || value.IsBool()) ? add(value) : std::nullopt;
        supported = items.has_value();
        if (supported) nodes_[id].items = *items;
      }
      if (!supported) return std::nullopt;
    }
    // `const` and `enum` together: a value must match both, which one list cannot say.
    if (schema.HasMember("const") && schema.HasMember("enum")) return std::nullopt;
    return id;
  }

 private:
  // Which of two equal keys a validator honours is its own choice: such a schema is left to
  // valijson.
  static bool has_duplicate_names(const json::Value& object) {
    for (auto a = object.MemberBegin(); a != object.MemberEnd(); ++a) {
      for (auto b = a + 1; b != object.MemberEnd(); ++b) {
        if (view(a->name) == view(b->name)) return true;
      }
    }
    return false;
  }

  bool read_types(const json::Value& value, NodeId id) {
    uint8_t types = 0;
    if (value.IsString()) {
      types = type_bit(view(value));
      if (types == 0) return false;
    } else if (value.IsArray() && !value.Empty()) {
      for (const json::Value& name : value.GetArray()) {
        uint8_t bit = name.IsString() ? type_bit(view(name)) : 0;
        if (bit == 0) return false;
        types |= bit;
      }
    } else {
      return false;
    }
    nodes_[id].types = types;
    return true;
  }

  bool read_required(const json::Value& value, NodeId id) {
    if (!value.IsArray()) return false;
    for (const json::Value& name : value.GetArray()) {
      if (!name.IsString()) return false;
      Node& node = nodes_[id];
      Member& member = member_named(node, view(name));
      if (member.required_bit != 0) continue;  // named twice: once is enough
      const int bits_used = __builtin_popcountll(node.required_mask);
      if (bits_used == 64) return false;
      member.required_bit = uint64_t{1} << bits_used;
      node.required_mask |= member.required_bit;
    }
    return true;
  }

  bool read_properties(const json::Value& value, NodeId id) {
    if (!value.IsObject() || has_duplicate_names(value)) return false;
    for (auto property = value.MemberBegin(); property != value.MemberEnd(); ++property) {
      std::optional<NodeId> child = add(property->value);
      if (!child) return false;
      // nodes_ may have grown: index again rather than hold a reference across add().
      member_named(nodes_[id], view(property->name)).property = *child;
    }
    return true;
  }

  static Member& member_named(Node& node, std::string_view name) {
    for (Member& member : node.members) {
      if (member.name == name) return member;
    }
    return node.members.emplace_back(Member{std::string(name)});
  }

  bool read_enum(const json::Value& value, NodeId id) {
    if (!value.IsArray() || value.Empty()) return false;
    for (const json::Value& literal : value.GetArray()) {
      if (!add_literal(literal, id)) return false;
    }
    return true;
  }

  bool add_literal(const json::Value& value, NodeId id) {
    Node& node = nodes_[id];
    node.has_literals = true;
    if (value.IsNull()) {
      node.literals.emplace_back(nullptr);
    } else if (value.IsBool()) {
      node.literals.emplace_back(value.GetBool());
    } else if (value.IsString()) {
      node.literals.emplace_back(std::string(view(value)));
    } else if (value.IsInt64()) {
      node.literals.emplace_back(value.GetInt64());
    } else {
      return false;  // fractions, huge integers, objects and arrays: valijson's equality rules
    }
    return true;
  }

  std::vector<Node>& nodes_;
};

std::optional<StructureCheck> StructureCheck::compile(const json::Value& schema) {
  StructureCheck check;
  Compiler compiler(check.nodes_);
  if (!compiler.add(schema)) return std::nullopt;
  return check;
}

bool StructureCheck::type_matches(uint8_t types, const json::Value& value) {
  if (types == 0) return true;
  switch (value.GetType()) {
    case rapidjson::kNullType:
      return (types & kTypeNull) != 0;
    case rapidjson::kFalseType:
    case rapidjson::kTrueType:
      return (types & kTypeBoolean) != 0;
    case rapidjson::kObjectType:
      return (types & kTypeObject) != 0;
    case rapidjson::kArrayType:
      return (types & kTypeArray) != 0;
    case rapidjson::kStringType:
      return (types & kTypeString) != 0;
    case rapidjson::kNumberType:
      if ((types & kTypeNumber) != 0) return true;
      // A fraction written as 1.0 may or may not count as an integer; valijson decides that.
      return (types & kTypeInteger) != 0 && (value.IsInt64() || value.IsUint64());
  }
  return false;
}

bool StructureCheck::equals(const Literal& literal, const json::Value& value) {
  if (std::holds_alternative<std::nullptr_t>(literal)) return value.IsNull();
  if (const bool* flag = std::get_if<bool>(&literal)) return value.IsBool() && value.GetBool() == *flag;
  if (const int64_t* number = std::get_if<int64_t>(&literal)) return value.IsInt64() && value.GetInt64() == *number;
  const std::string& text = std::get<std::string>(literal);
  return value.IsString() && view(value) == text;
}

const StructureCheck::Member* StructureCheck::find_member(const Node& node, std::string_view name) {
  for (const Member& member : node.members) {
    // Most names differ in length or first byte: compare those before calling memcmp.
    if (member.name.size() == name.size() && (name.empty() || member.name[0] == name[0]) &&
        std::memcmp(member.name.data(), name.data(), name.size()) == 0) {
      return &member;
    }
  }
  return nullptr;
}

bool StructureCheck::accepts(const json::Value& value, NodeId id) const {
  const Node& node = nodes_[id];
  if (node.rejects_everything || !type_matches(node.types, value)) return false;
  if (node.has_literals) {
    bool matched = false;
    for (const Literal& literal : node.literals) {
      if (equals(literal, value)) {
        matched = true;
        break;
      }
    }
    if (!matched) return false;
  }
  if (value.IsObject()) {
    if (!node.members.empty() || !node.additional_allowed) {
      uint64_t required_seen = 0;
      for (auto member = value.MemberBegin(); member != value.MemberEnd(); ++member) {
        const Member* known = find_member(node, view(member->name));
        if (known != nullptr) required_seen |= known->required_bit;
        if (known == nullptr || known->property == kNoNode) {
          if (!node.additional_allowed) return false;
          continue;
        }
        if (!accepts(member->value, known->property)) return false;
      }
      if (required_seen != node.required_mask) return false;
    }
  } else if (value.IsArray() && node.items != kNoNode) {
    for (const json::Value& element : value.GetArray()) {
      if (!accepts(element, node.items)) return false;
    }
  }
  return true;
}

}  // namespace sluice::stages
