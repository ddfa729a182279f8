#include "stages/schema_registry.h"

#include <algorithm>
#include <exception>
#include <filesystem>
#include <system_error>
#include <utility>

#include <rapidjson/error/en.h>

#include "common/log.h"
#include "stages/schema_prep.h"
#include "stages/schema_refs.h"
#include "common/text_file.h"
#include "stages/valijson.h"

namespace sluice::stages {

CompiledSchema::CompiledSchema(std::string message_type, std::string source_path,
                               std::unique_ptr<const valijson::Schema> structure,
                               std::optional<StructureCheck> quick_check, FormatPlan formats)
    : message_type_(std::move(message_type)),
      source_path_(std::move(source_path)),
      structure_(std::move(structure)),
      quick_check_(std::move(quick_check)),
      formats_(std::move(formats)) {}

CompiledSchema::~CompiledSchema() = default;

SchemaRegistry::SchemaRegistry(std::vector<std::unique_ptr<const CompiledSchema>> schemas) {
  for (auto& schema : schemas) {
    std::string key = schema->message_type();
    schemas_.insert_or_assign(std::move(key), std::move(schema));
  }
}

const CompiledSchema* SchemaRegistry::find(std::string_view message_type) const {
  auto found = schemas_.find(message_type);
  return found == schemas_.end() ? nullptr : found->second.get();
}

std::vector<std::string> SchemaRegistry::message_types() const {
  std::vector<std::string> types;
  types.reserve(schemas_.size());
  for (const auto& [type, schema] : schemas_) types.push_back(type);
  return types;
}

TextPosition position_of(std::string_view text, size_t offset) {
  TextPosition position;
  offset = std::min(offset, text.size());
  for (size_t i = 0; i < offset; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      ++position.line;
      position.column = 1;
    } else if ((c & 0xC0) != 0x80) {  // continuation bytes belong to the character before
      ++position.column;
    }
  }
  return position;
}

namespace {

std::string located(const std::string& source, std::string_view text, size_t offset, std::string_view what) {
  TextPosition position = position_of(text, offset);
  std::string note = source;
  note += ':';
  note += std::to_string(position.line);
  note += ':';
  note += std::to_string(position.column);
  note += ": ";
  note += what;
  return note;
}

size_t first_non_space(std::string_view text) {
  size_t offset = text.find_first_not_of(" \t\r\n");
  return offset == std::string_view::npos ? text.size() : offset;
}

}  // namespace

std::unique_ptr<const CompiledSchema> compile_schema(std::string_view text, std::string message_type,
                                                     const std::string& source_name,
                                                     std::vector<std::string>& errors,
                                                     std::vector<std::string>& warnings) {
  json::Document document;
  constexpr unsigned kFlags = rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag;
  document.Parse<kFlags>(text.data(), text.size());
  if (document.HasParseError()) {
    std::string what = "not valid JSON: ";
    what += rapidjson::GetParseError_En(document.GetParseError());
    errors.push_back(located(source_name, text, document.GetErrorOffset(), what));
    return nullptr;
  }
  if (!document.IsObject()) {
    errors.push_back(located(source_name, text, first_non_space(text), "a schema must be a JSON object"));
    return nullptr;
  }

  // Before anything else walks the schema: a reference loop would overflow valijson's stack.
  std::vector<std::string> reference_errors = check_schema_references(document);
  if (!reference_errors.empty()) {
    for (const std::string& error : reference_errors) errors.push_back(source_name + ": " + error);
    return nullptr;
  }

  PreparedSchema prepared = prepare_schema(document);
  for (const std::string& warning : prepared.warnings) warnings.push_back(source_name + ": " + warning);
  if (!prepared.errors.empty()) {
    for (const std::string& error : prepared.errors) errors.push_back(source_name + ": " + error);
    return nullptr;
  }

  auto structure = std::make_unique<valijson::Schema>();
  try {
    valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
    valijson::adapters::RapidJsonAdapter adapter(document);
    parser.populateSchema(adapter, *structure);
  } catch (const std::exception& e) {
    errors.push_back(source_name + ": schema not accepted by the validator: " + e.what());
    return nullptr;
  }
  return std::make_unique<const CompiledSchema>(std::move(message_type), source_name, std::move(structure),
                                                StructureCheck::compile(document), std::move(prepared.formats));
}

std::shared_ptr<const SchemaRegistry> load_schema_registry(const std::string& dir, std::vector<std::string>& errors) {
  namespace fs = std::filesystem;
  if (dir.empty()) {
    errors.push_back("pipeline.schemas_dir: not set");
    return nullptr;
  }
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    errors.push_back(dir + ": " + (ec ? ec.message() : std::string("not a directory")));
    return nullptr;
  }

  std::vector<fs::path> files;
  fs::directory_iterator it(dir, ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const fs::path& path = it->path();
    std::string name = path.filename().string();
    if (name.empty() || name.front() == '.' || path.extension() != ".json") continue;
    std::error_code type_ec;
    if (!it->is_regular_file(type_ec)) continue;
    files.push_back(path);
  }
  if (ec) {
    errors.push_back(dir + ": cannot list directory: " + ec.message());
    return nullptr;
  }
  if (files.empty()) {
    errors.push_back(dir + ": no schema files (<message_type>.json) in the directory");
    return nullptr;
  }
  std::sort(files.begin(), files.end());

  size_t errors_before = errors.size();
  std::vector<std::unique_ptr<const CompiledSchema>> schemas;
  std::string text;
  std::string read_error;
  for (const fs::path& path : files) {
    std::string source = path.string();
    if (!read_text_file(source, kMaxSchemaFileBytes, text, read_error)) {
      errors.push_back(source + ": cannot read: " + read_error);
      continue;
    }
    std::vector<std::string> warnings;
    auto schema = compile_schema(text, path.stem().string(), source, errors, warnings);
    for (const std::string& warning : warnings) log::warn("schema warning", {{"detail", warning}});
    if (schema) schemas.push_back(std::move(schema));
  }
  if (errors.size() != errors_before) return nullptr;
  return std::make_shared<const SchemaRegistry>(std::move(schemas));
}

}  // namespace sluice::stages
