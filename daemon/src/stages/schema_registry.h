#pragma once
// The schemas the schema stage validates against: one JSON Schema (draft-07) per message
// type, read from `<schemas_dir>/<message_type>.json`. Each is compiled once at load, with
// its `format` keywords taken out into a FormatPlan (see schema_prep.h).
//
// Threading: a SchemaRegistry is immutable and shared by every worker as
// shared_ptr<const SchemaRegistry>; a reload builds a new one and swaps the pointer, so the
// old one lives until the last worker lets go of it. Validating against a CompiledSchema
// only reads it; the per-thread part (valijson's Validator) lives in the schema stage.

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stages/format_plan.h"
#include "stages/structure_check.h"

namespace valijson {
class Schema;
}  // namespace valijson

namespace sluice::stages {

class CompiledSchema {
 public:
  CompiledSchema(std::string message_type, std::string source_path, std::unique_ptr<const valijson::Schema> structure,
                 std::optional<StructureCheck> quick_check, FormatPlan formats);
  ~CompiledSchema();
  CompiledSchema(const CompiledSchema&) = delete;
  CompiledSchema& operator=(const CompiledSchema&) = delete;

  const std::string& message_type() const { return message_type_; }
  const std::string& source_path() const { return source_path_; }
  // Everything but `format`, for valijson.
  const valijson::Schema& structure() const { return *structure_; }
  // The same structure for the fast path, when the schema's keywords allow one.
  const std::optional<StructureCheck>& quick_check() const { return quick_check_; }
  const FormatPlan& formats() const { return formats_; }

 private:
  std::string message_type_;
  std::string source_path_;
  std::unique_ptr<const valijson::Schema> structure_;
  std::optional<StructureCheck> quick_check_;
  FormatPlan formats_;
};

class SchemaRegistry {
 public:
  explicit SchemaRegistry(std::vector<std::unique_ptr<const CompiledSchema>> schemas);

  // nullptr when no schema is registered for this message type.
  const CompiledSchema* find(std::string_view message_type) const;
  size_t size() const { return schemas_.size(); }
  std::vector<std::string> message_types() const;

 private:
  std::map<std::string, std::unique_ptr<const CompiledSchema>, std::less<>> schemas_;
};

// Compiles one schema from its text. `source_name` prefixes every note. Problems go to
// `errors` as "SOURCE:LINE:COL: what" when the position is known (JSON syntax errors) and
// "SOURCE: what" otherwise; things an operator should know but that do not stop loading go to
// `warnings`. Returns nullptr when anything was added to `errors`.
std::unique_ptr<const CompiledSchema> compile_schema(std::string_view text, std::string message_type,
                                                     const std::string& source_name,
                                                     std::vector<std::string>& errors,
                                                     std::vector<std::string>& warnings);

// The largest schema file accepted (checked before it is read): real schemas are kilobytes;
// a file past this is a mistake, and compiling it would take many times its size.
constexpr size_t kMaxSchemaFileBytes = 1024 * 1024;

// Compiles every `*.json` regular file in `dir` (not recursive; hidden files skipped), in
// name order, reporting every problem of every file at once. Warnings are logged once each.
// Returns nullptr when `dir` is missing, unreadable or has no schema, or any file failed.
std::shared_ptr<const SchemaRegistry> load_schema_registry(const std::string& dir, std::vector<std::string>& errors);

// 1-based line and column (in UTF-8 characters) of a byte offset into `text`, as editors count.
struct TextPosition {
  size_t line = 1;
  size_t column = 1;
};
TextPosition position_of(std::string_view text, size_t offset);

}  // namespace sluice::stages
