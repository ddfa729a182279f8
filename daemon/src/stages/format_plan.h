#pragma once
// The `format` assertions of one schema, compiled at load time into a small tree that is
// walked alongside each document (see schema_prep.h for how it is built).
//
// The tree follows `properties`, `additionalProperties`, `items` (one schema or a tuple) and
// `allOf`: the positions where a format applies to a value unconditionally. Subtrees without
// any format are pruned, so a document is visited only where something is checked.
//
// Threading: immutable after construction; check() may run on any number of threads.

#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "json/json_parser.h"
#include "stages/format_checks.h"

namespace sluice::stages {

class FormatPlan {
 public:
  using NodeId = uint32_t;
  static constexpr NodeId kNone = std::numeric_limits<NodeId>::max();

  // One schema position.
  struct Node {
    std::vector<Format> formats;  // asserted on the value itself when it is a string
    std::vector<NodeId> all_of;   // further nodes for the same value
    // Object members named in `properties`. A name may map to kNone: it is then only listed so
    // that `other_properties` does not apply to it.
    std::vector<std::pair<std::string, NodeId>> properties;
    NodeId other_properties = kNone;  // `additionalProperties`: members not named above
    NodeId items = kNone;             // every array element
    std::vector<NodeId> tuple_items;  // array element i, when `items` is an array
  };

  FormatPlan() = default;
  FormatPlan(std::vector<Node> nodes, NodeId root);

  bool empty() const { return root_ == kNone; }
  size_t node_count() const { return nodes_.size(); }

  // True when every asserted format holds. Otherwise false, with `detail` naming the first
  // failing value and its format, e.g. "payload.from_email: not a valid email". Object
  // members with a repeated name are all checked. Recursion follows the document, whose
  // depth the parser has already bounded. Allocates only on failure.
  bool check(const json::Value& document, std::string& detail) const;

 private:
  struct PathLink;
  bool check_node(NodeId id, const json::Value& value, const PathLink* path, std::string& detail) const;
  static void append_path(std::string& out, const PathLink* path);

  std::vector<Node> nodes_;
  NodeId root_ = kNone;
};

}  // namespace sluice::stages
