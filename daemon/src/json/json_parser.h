#pragma once
// Strict, bounded JSON parsing of untrusted record values into a RapidJSON DOM.
//
// Rules (each is a DLQ reason `invalid_json` when broken): the value must be non-empty,
// valid UTF-8 (no BOM), one JSON object and nothing after it but whitespace, nested no deeper
// than `max_depth`. Parsing is iterative, so no input can overflow the stack.
//
// Numbers are kept exactly as Python's json.loads sees them: integers that fit int64/uint64
// stay integers, anything with a fraction or exponent becomes the nearest double
// (full-precision conversion), and integers too large for 64 bits are stored as doubles with
// `has_big_integer()` set so the fingerprint can fall back to the original digits.
//
// Threading: a JsonParser and a ParsedDocument belong to one thread. Both keep their memory
// between messages; nothing is freed per message.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include <rapidjson/document.h>

namespace sluice::json {

using Allocator = rapidjson::MemoryPoolAllocator<rapidjson::CrtAllocator>;
using Document = rapidjson::GenericDocument<rapidjson::UTF8<>, Allocator>;
using Value = rapidjson::GenericValue<rapidjson::UTF8<>, Allocator>;

class ParsedDocument {
 public:
  ParsedDocument();
  ~ParsedDocument();
  ParsedDocument(const ParsedDocument&) = delete;
  ParsedDocument& operator=(const ParsedDocument&) = delete;

  // The parsed object. Valid after a successful JsonParser::parse until the next parse.
  const Value& root() const;
  bool has_big_integer() const { return has_big_integer_; }

 private:
  friend class JsonParser;
  struct Storage;
  std::unique_ptr<Storage> storage_;
  bool has_big_integer_ = false;
};

struct ParseOutcome {
  bool ok = false;
  std::string error;  // e.g. "invalid UTF-8 at byte 17", "nesting deeper than 64 levels"
};

class JsonParser {
 public:
  explicit JsonParser(int max_depth);

  ParseOutcome parse(std::string_view bytes, ParsedDocument& out);

 private:
  int max_depth_;
  // Kept between parses: its stack keeps its capacity, so a parse allocates nothing for it.
  rapidjson::Reader reader_;
};

// Looks up a member (the last one, when a key repeats); empty view when absent or not a string.
std::string_view get_string(const Value& object, std::string_view name);
// Looks up an object member; nullptr when absent or not an object.
const Value* get_object(const Value& object, std::string_view name);

}  // namespace sluice::json
