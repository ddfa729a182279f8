#pragma once
// A fast "valid" for the common case of the schema stage. valijson walks a schema through
// std::function and std::bind objects it allocates per constraint and per value; on an event of
// a few hundred bytes that is most of the stage's time. Most schemas written for events use a
// handful of keywords whose meaning is simple, so those are compiled once into a small tree of
// plain nodes and checked in one walk without allocating.
//
// The check only ever says "certainly valid" or "not sure": a document it does not accept goes
// to valijson, which decides and words the reason, so every violation is still reported exactly
// as before. A schema with any keyword outside the supported set gets no StructureCheck and is
// validated by valijson alone. Supported (draft-07): type, required, properties,
// additionalProperties (true or false), const and enum of strings, booleans, null and integers,
// items (one schema), and the annotations (title, description, $comment, $schema, $id, default,
// examples, readOnly, writeOnly). `format` is not here: schema_prep takes it out into a FormatPlan.
//
// Members are checked as valijson checks them: every member of an object, duplicates included,
// against the `properties` entry of its name; `required` needs one member of that name. Each
// member's name is looked up once, among the node's properties and required names together
// (at most 64 distinct required names per object schema; more are left to valijson).
//
// Threading: immutable after compile(); accepts() may run on any number of threads.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "json/json_parser.h"

namespace sluice::stages {

class StructureCheck {
 public:
  // nullopt when the schema uses anything outside the supported set.
  static std::optional<StructureCheck> compile(const json::Value& schema);

  // True only when the document certainly satisfies the schema's structure.
  bool accepts(const json::Value& document) const { return accepts(document, 0); }

 private:
  using NodeId = uint32_t;
  static constexpr NodeId kNoNode = UINT32_MAX;

  // A literal of `const` or `enum`.
  using Literal = std::variant<std::nullptr_t, bool, int64_t, std::string>;

  // A member name the schema says something about: a `properties` entry, a `required` name,
  // or both. An object's members are looked up here once each.
  struct Member {
    std::string name;
    NodeId property = kNoNode;  // kNoNode: only required, not a property
    uint64_t required_bit = 0;  // 0: not required
  };

  struct Node {
    bool rejects_everything = false;  // the schema `false`
    uint8_t types = 0;                // kType* bits; 0: any type
    std::vector<Member> members;
    uint64_t required_mask = 0;  // every required_bit of members
    bool additional_allowed = true;
    bool has_literals = false;  // const or enum present: the value must equal one of these
    std::vector<Literal> literals;
    NodeId items = kNoNode;
  };

  class Compiler;

  bool accepts(const json::Value& value, NodeId id) const;
  static const Member* find_member(const Node& node, std::string_view name);
  static bool type_matches(uint8_t types, const json::Value& value);
  static bool equals(const Literal& literal, const json::Value& value);

  std::vector<Node> nodes_;  // nodes_[0] is the root
};

}  // namespace sluice::stages
