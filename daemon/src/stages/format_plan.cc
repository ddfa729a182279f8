#include "stages/format_plan.h"

#include <algorithm>
#include <cstddef>
#include <string_view>

#include "common/assert.h"

namespace sluice::stages {

// The way from the document root to the value being checked, kept on the stack so a passing
// document costs no allocation. The string form is only built for a failure.
struct FormatPlan::PathLink {
  const PathLink* parent = nullptr;
  std::string_view name;  // member name, or empty for an array element
  size_t index = 0;
  bool is_index = false;
};

FormatPlan::FormatPlan(std::vector<Node> nodes, NodeId root) : nodes_(std::move(nodes)), root_(root) {
  SLUICE_ASSERT(root_ == kNone || root_ < nodes_.size(), "format plan root outside its node list");
}

bool FormatPlan::check(const json::Value& document, std::string& detail) const {
  if (root_ == kNone) return true;
  return check_node(root_, document, nullptr, detail);
}

bool FormatPlan::check_node(NodeId id, const json::Value& value, const PathLink* path, std::string& detail) const {
  const Node& node = nodes_[id];
  if (!node.formats.empty() && value.IsString()) {
    std::string_view text(value.GetString(), value.GetStringLength());
    for (Format format : node.formats) {
      if (matches_format(format, text)) continue;
      detail.clear();
      append_path(detail, path);
      detail += ": not a valid ";
      detail += format_name(format);
      return false;
    }
  }
  for (NodeId branch : node.all_of) {
    if (!check_node(branch, value, path, detail)) return false;
  }
  if (value.IsObject() && (!node.properties.empty() || node.other_properties != kNone)) {
    for (auto member = value.MemberBegin(); member != value.MemberEnd(); ++member) {
      PathLink link{path, std::string_view(member->name.GetString(), member->name.GetStringLength())};
      bool listed = false;
      for (const auto& [name, child] : node.properties) {
        if (name != link.name) continue;
        listed = true;
        if (child != kNone && !check_node(child, member->value, &link, detail)) return false;
      }
      if (!listed && node.other_properties != kNone &&
          !check_node(node.other_properties, member->value, &link, detail)) {
        return false;
      }
    }
  }
  if (value.IsArray() && (node.items != kNone || !node.tuple_items.empty())) {
    for (rapidjson::SizeType i = 0; i < value.Size(); ++i) {
      NodeId child = node.items;
      if (!node.tuple_items.empty()) child = i < node.tuple_items.size() ? node.tuple_items[i] : kNone;
      if (child == kNone) continue;
      PathLink link{path, {}, i, true};
      if (!check_node(child, value[i], &link, detail)) return false;
    }
  }
  return true;
}

// "payload.items[2].from_email"; the root itself is "(root)".
void FormatPlan::append_path(std::string& out, const PathLink* path) {
  if (path == nullptr) {
    out += "(root)";
    return;
  }
  size_t start = out.size();
  // Links run leaf to root: write each segment reversed, then reverse the whole path once.
  for (const PathLink* link = path; link != nullptr; link = link->parent) {
    if (link->is_index) {
      out += ']';
      std::string digits = std::to_string(link->index);
      out.append(digits.rbegin(), digits.rend());
      out += '[';
    } else {
      out.append(link->name.rbegin(), link->name.rend());
      if (link->parent != nullptr) out += '.';
    }
  }
  std::reverse(out.begin() + static_cast<std::ptrdiff_t>(start), out.end());
}

}  // namespace sluice::stages
