#include "stages/schema_stage.h"

#include <charconv>
#include <exception>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "common/assert.h"
#include "stages/valijson.h"

namespace sluice::stages {

namespace {

// Message data quoted in a detail is cut short, at a UTF-8 character boundary (the parser
// has already checked the encoding).
std::string excerpt(std::string_view text) {
  constexpr size_t kMaxBytes = 64;
  if (text.size() <= kMaxBytes) return std::string(text);
  size_t end = kMaxBytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return std::string(text.substr(0, end)) + "...";
}

bool parse_index(std::string_view text, size_t& index) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), index);
  return ec == std::errc() && end == text.data() + text.size();
}

// valijson names a location as {"<root>", "[payload]", "[3]", ...}, where "[3]" may be an
// array index or a member called "3". Walking the document along it tells the two apart.
std::string render_context(const std::vector<std::string>& context, const json::Value& document) {
  std::string path;
  const json::Value* value = &document;
  for (size_t i = 1; i < context.size(); ++i) {
    std::string_view segment = context[i];
    if (segment.size() >= 2 && segment.front() == '[' && segment.back() == ']') {
      segment = segment.substr(1, segment.size() - 2);
    }
    size_t index = 0;
    if (value != nullptr && value->IsArray() && parse_index(segment, index)) {
      path += '[';
      path += segment;
      path += ']';
      value = index < value->Size() ? &(*value)[static_cast<rapidjson::SizeType>(index)] : nullptr;
      continue;
    }
    if (!path.empty()) path += '.';
    path += segment;
    if (value != nullptr && value->IsObject()) {
      auto member = value->FindMember(json::Value(rapidjson::StringRef(segment.data(), segment.size())));
      value = member == value->MemberEnd() ? nullptr : &member->value;
    } else {
      value = nullptr;
    }
  }
  return path.empty() ? "(root)" : path;
}

// "Missing required property 'x'." -> "missing required property 'x'"
std::string tidy_description(std::string description) {
  if (!description.empty() && description.back() == '.') description.pop_back();
  if (description.size() >= 2 && description[0] >= 'A' && description[0] <= 'Z' && description[1] >= 'a' &&
      description[1] <= 'z') {
    description[0] = static_cast<char>(description[0] - 'A' + 'a');
  }
  return description;
}


// valijson checks a property by its first occurrence, while routing, the filter and readers
// downstream take the last one of duplicate keys (as json.loads does). Where they differ, what
// was validated is not what is read, so an object whose duplicate keys disagree is refused.
// Returns the first such name, or nullptr. Pairwise for small objects, with a hash map for
// large ones (hostile objects can have many members).
const json::Value* disagreeing_duplicate(const json::Value& object) {
  // Up to this many members the names are compared pairwise, without allocating: a message's
  // objects are small, and this runs for every record.
  constexpr rapidjson::SizeType kPairwiseMembers = 16;
  if (!object.IsObject() || object.MemberCount() < 2) return nullptr;
  if (object.MemberCount() <= kPairwiseMembers) {
    for (auto a = object.MemberBegin(); a != object.MemberEnd(); ++a) {
      for (auto b = a + 1; b != object.MemberEnd(); ++b) {
        if (a->name.GetStringLength() == b->name.GetStringLength() && a->name == b->name && !(a->value == b->value)) {
          return &b->name;
        }
      }
    }
    return nullptr;
  }
  std::unordered_map<std::string_view, const json::Value*> first;
  first.reserve(object.MemberCount());
  for (auto it = object.MemberBegin(); it != object.MemberEnd(); ++it) {
    auto [seen, inserted] = first.try_emplace(std::string_view(it->name.GetString(), it->name.GetStringLength()), &it->value);
    if (!inserted && !(*seen->second == it->value)) return &it->name;
  }
  return nullptr;
}

// The same for the document and the objects directly in it (the payload), which the schemas
// and the filter read.
const json::Value* disagreeing_duplicate_in(const json::Value& root) {
  if (const json::Value* name = disagreeing_duplicate(root)) return name;
  for (auto it = root.MemberBegin(); it != root.MemberEnd(); ++it) {
    if (const json::Value* name = disagreeing_duplicate(it->value)) return name;
  }
  return nullptr;
}

}  // namespace

SchemaStage::SchemaStage(std::shared_ptr<const SchemaRegistry> registry)
    : registry_(std::move(registry)), validator_(std::make_unique<valijson::Validator>()) {
  SLUICE_ASSERT(registry_ != nullptr, "schema stage built without a schema registry");
}

SchemaStage::~SchemaStage() = default;

void SchemaStage::set_registry(std::shared_ptr<const SchemaRegistry> registry) {
  SLUICE_ASSERT(registry != nullptr, "schema registry swapped for nothing");
  registry_ = std::move(registry);
}

StageResult SchemaStage::process(MessageContext& message) {
  if (message.message_type.empty()) {
    return StageResult::dead_letter(Reason::UnknownMessageType, "message_type missing, empty or not a string");
  }
  const CompiledSchema* schema = registry_->find(message.message_type);
  if (schema == nullptr) {
    return StageResult::dead_letter(Reason::UnknownMessageType,
                                    "no schema for message_type '" + excerpt(message.message_type) + "'");
  }
  const json::Value& document = message.document.root();
  if (const json::Value* name = disagreeing_duplicate_in(document)) {
    return StageResult::dead_letter(
        Reason::SchemaViolation,
        "duplicate key '" + excerpt(std::string_view(name->GetString(), name->GetStringLength())) +
            "' with different values (the first is what the schema checks, the last what is read)");
  }
  // The quick check first (structure_check.h); valijson decides whatever it does not accept.
  bool valid = schema->quick_check() && schema->quick_check()->accepts(document);
  if (!valid) {
    try {
      // No results collector, so valijson stops at the first failed constraint.
      valid = validator_->validate(schema->structure(), valijson::adapters::RapidJsonAdapter(document), nullptr);
    } catch (const std::exception& e) {
      return StageResult::dead_letter(Reason::SchemaViolation, std::string("validator error: ") + e.what());
    }
  }
  if (!valid) return StageResult::dead_letter(Reason::SchemaViolation, describe_violation(*schema, document));

  std::string detail;  // stays empty (no allocation) unless a format fails
  if (!schema->formats().check(document, detail)) return StageResult::dead_letter(Reason::SchemaViolation, std::move(detail));
  return StageResult::next();
}

// Failure path only: validates again, this time collecting every error, and reports the
// first one valijson recorded, which is the innermost (a child reports before its parent).
std::string SchemaStage::describe_violation(const CompiledSchema& schema, const json::Value& document) {
  valijson::ValidationResults results;
  try {
    validator_->validate(schema.structure(), valijson::adapters::RapidJsonAdapter(document), &results);
  } catch (const std::exception& e) {
    return std::string("validator error: ") + e.what();
  }
  valijson::ValidationResults::Error error;
  if (!results.popError(error)) return "(root): does not match the schema";
  std::string detail = render_context(error.context, document);
  detail += ": ";
  detail += tidy_description(std::move(error.description));
  return detail;
}

}  // namespace sluice::stages
