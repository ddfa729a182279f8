#include "json/json_parser.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>

namespace sluice::json {

namespace {
// A number the parser reads from the original text instead of from the copy it parses.
struct NumberSubstitution {
  size_t ordinal;  // among all numbers of the text, in order
  std::string_view text;
};
}  // namespace

// The first pool chunk lives inside the document storage, so a typical event (a few hundred
// bytes, a few dozen values) parses without a single heap allocation.
struct ParsedDocument::Storage {
  static constexpr size_t kInlineBytes = 16 * 1024;
  alignas(std::max_align_t) char inline_buffer[kInlineBytes];
  Allocator allocator{inline_buffer, kInlineBytes};
  Document document{&allocator};
  // The text being parsed, NUL-terminated. RapidJSON parses it in place (unescaping strings
  // where they stand), and the document's strings and keys point into it instead of being
  // copied twice (into the reader's stack, then into the pool): parse 0.9 → 0.5 µs on the mix.
  // Its capacity stays at the largest value parsed so far (at most the size stage's limit).
  std::vector<char> text;
  // Only for the rare message with a number RapidJSON calls too big (see parse()).
  std::string substituted;
  std::vector<NumberSubstitution> substitutions;
};

ParsedDocument::ParsedDocument() : storage_(std::make_unique<Storage>()) {}
ParsedDocument::~ParsedDocument() = default;

const Value& ParsedDocument::root() const { return storage_->document; }

namespace {

constexpr unsigned kParseFlags = rapidjson::kParseInsituFlag | rapidjson::kParseValidateEncodingFlag |
                                 rapidjson::kParseIterativeFlag | rapidjson::kParseStopWhenDoneFlag |
                                 rapidjson::kParseNumbersAsStringsFlag;
// For text that is all ASCII, which is valid UTF-8 by definition: RapidJSON's per-character
// validation is then a quarter of the parse, for nothing. (Surrogates written as escapes are
// checked by the string parser either way.)
constexpr unsigned kAsciiParseFlags = kParseFlags & ~rapidjson::kParseValidateEncodingFlag;

// Eight bytes at a time: events are mostly ASCII, and this costs a few dozen nanoseconds.
bool is_ascii(std::string_view text) {
  const char* at = text.data();
  const char* end = at + text.size();
  uint64_t high_bits = 0;
  for (; end - at >= 8; at += 8) {
    uint64_t word;
    std::memcpy(&word, at, sizeof word);
    high_bits |= word;
  }
  for (; at < end; ++at) high_bits |= static_cast<unsigned char>(*at);
  return (high_bits & 0x8080808080808080ULL) == 0;
}

bool is_integer_literal(const char* text, size_t length) {
  for (size_t i = 0; i < length; ++i) {
    char c = text[i];
    if (c == '.' || c == 'e' || c == 'E') return false;
  }
  return true;
}

// Correctly rounded decimal → double, with Python's float() results at the edges:
// overflow gives ±inf, underflow gives ±0.
double to_double(const char* text, size_t length) {
  double value = 0;
  auto [ptr, ec] = std::from_chars(text, text + length, value);
  if (ec == std::errc() && ptr == text + length) return value;
  std::string copy(text, length);
  errno = 0;
  return std::strtod(copy.c_str(), nullptr);  // HUGE_VAL or 0 with ERANGE, as Python does
}

// Forwards SAX events to the document while enforcing the depth limit and converting raw
// number text ourselves (see the header for why).
class BoundedHandler {
 public:
  BoundedHandler(Document& document, int max_depth, std::span<const NumberSubstitution> substitutions)
      : document_(document), max_depth_(max_depth), substitutions_(substitutions) {}

  bool Null() { return document_.Null(); }
  bool Bool(bool b) { return document_.Bool(b); }
  bool Int(int i) { return document_.Int(i); }
  bool Uint(unsigned u) { return document_.Uint(u); }
  bool Int64(int64_t i) { return document_.Int64(i); }
  bool Uint64(uint64_t u) { return document_.Uint64(u); }
  bool Double(double d) { return document_.Double(d); }
  bool RawNumber(const char* text, rapidjson::SizeType length, bool) {
    if (next_substitution_ < substitutions_.size() && substitutions_[next_substitution_].ordinal == number_ordinal_) {
      text = substitutions_[next_substitution_].text.data();
      length = static_cast<rapidjson::SizeType>(substitutions_[next_substitution_].text.size());
      ++next_substitution_;
    }
    ++number_ordinal_;
    if (is_integer_literal(text, length)) {
      int64_t signed_value = 0;
      auto [ptr, ec] = std::from_chars(text, text + length, signed_value);
      if (ec == std::errc() && ptr == text + length) return document_.Int64(signed_value);
      if (text[0] != '-') {
        uint64_t unsigned_value = 0;
        auto [uptr, uec] = std::from_chars(text, text + length, unsigned_value);
        if (uec == std::errc() && uptr == text + length) return document_.Uint64(unsigned_value);
      }
      has_big_integer_ = true;
    }
    return document_.Double(to_double(text, length));
  }
  bool String(const char* text, rapidjson::SizeType length, bool copy) { return document_.String(text, length, copy); }
  bool Key(const char* text, rapidjson::SizeType length, bool copy) { return document_.Key(text, length, copy); }
  bool StartObject() { return enter() && document_.StartObject(); }
  bool EndObject(rapidjson::SizeType count) {
    --depth_;
    return document_.EndObject(count);
  }
  bool StartArray() { return enter() && document_.StartArray(); }
  bool EndArray(rapidjson::SizeType count) {
    --depth_;
    return document_.EndArray(count);
  }

  bool too_deep() const { return too_deep_; }
  bool has_big_integer() const { return has_big_integer_; }

 private:
  bool enter() {
    if (++depth_ > max_depth_) {
      too_deep_ = true;
      return false;
    }
    return true;
  }

  Document& document_;
  int max_depth_;
  int depth_ = 0;
  bool too_deep_ = false;
  bool has_big_integer_ = false;
  std::span<const NumberSubstitution> substitutions_;
  size_t number_ordinal_ = 0;
  size_t next_substitution_ = 0;
};

bool is_json_whitespace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// The end of the JSON number token starting at `begin` (exact grammar, longest valid
// prefix; `begin` itself when there is none), with the digit counts of its integer part and
// of its exponent.
size_t scan_number(std::string_view text, size_t begin, size_t& integer_digits, size_t& exponent_digits) {
  size_t i = begin;
  if (text[i] == '-') ++i;
  size_t integer_start = i;
  if (i < text.size() && text[i] == '0') {
    ++i;
  } else if (i < text.size() && is_digit(text[i])) {
    while (i < text.size() && is_digit(text[i])) ++i;
  } else {
    return begin;
  }
  integer_digits = i - integer_start;
  exponent_digits = 0;
  if (i + 1 < text.size() && text[i] == '.' && is_digit(text[i + 1])) {
    i += 2;
    while (i < text.size() && is_digit(text[i])) ++i;
  }
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    size_t j = i + 1;
    if (j < text.size() && (text[j] == '+' || text[j] == '-')) ++j;
    size_t exponent_start = j;
    while (j < text.size() && is_digit(text[j])) ++j;
    if (j > exponent_start) {
      exponent_digits = j - exponent_start;
      i = j;
    }
  }
  return i;
}

// RapidJSON rejects a number ("Number too big to be stored in double") whose integer part or
// exponent would overflow its own conversion, even with kParseNumbersAsStringsFlag, where
// that conversion is thrown away. Python's json.loads accepts such numbers (as inf, 0.0 or
// an exact long integer), and so must we. This copies `bytes` into `copy` with every number
// that might trip RapidJSON (300+ integer digits, or 3+ exponent digits) replaced by "0" and
// spaces of the same length, and lists the originals. The replacement is itself a number
// token, so the copy parses exactly when the original would have, bar the limit, and error
// offsets stay true. Returns false when there was nothing to replace.
//
// Strings are skipped by their quotes. In text that fails to parse the scan may go out of
// step, but then replacing digits with digits and spaces cannot make it parse; in text that
// does parse it is exact, so the ordinals match RapidJSON's number events.
bool substitute_long_numbers(std::string_view bytes, std::string& copy, std::vector<NumberSubstitution>& out) {
  out.clear();
  size_t ordinal = 0;
  size_t i = 0;
  while (i < bytes.size()) {
    char c = bytes[i];
    if (c == '"') {
      for (++i; i < bytes.size() && bytes[i] != '"'; ++i) {
        if (bytes[i] == '\\') ++i;
      }
      ++i;
      continue;
    }
    if (c != '-' && !is_digit(c)) {
      ++i;
      continue;
    }
    size_t integer_digits = 0;
    size_t exponent_digits = 0;
    size_t end = scan_number(bytes, i, integer_digits, exponent_digits);
    if (end == i) {
      ++i;
      continue;
    }
    if (integer_digits >= 300 || exponent_digits >= 3) {
      if (out.empty()) copy.assign(bytes);
      out.push_back({ordinal, bytes.substr(i, end - i)});
      copy[i] = '0';
      std::fill(copy.begin() + static_cast<std::ptrdiff_t>(i) + 1, copy.begin() + static_cast<std::ptrdiff_t>(end), ' ');
    }
    ++ordinal;
    i = end;
  }
  return !out.empty();
}

struct Attempt {
  rapidjson::ParseErrorCode error = rapidjson::kParseErrorNone;
  size_t error_offset = 0;
  size_t consumed = 0;
  bool too_deep = false;
  bool has_big_integer = false;
};

// `copy` receives the text and keeps what the document points into. A NUL byte ends the
// text for RapidJSON here as it did with a stream bounded by length (whose Peek() gives NUL
// past the end): an embedded NUL stops the parse at the same offset either way, and
// parse() then finds that offset short of the length.
Attempt run_reader(rapidjson::Reader& reader, std::string_view text, std::span<const NumberSubstitution> substitutions,
                   Document& document, int max_depth, std::vector<char>& copy) {
  BoundedHandler handler(document, max_depth, substitutions);
  copy.assign(text.begin(), text.end());
  copy.push_back('\0');
  rapidjson::InsituStringStream stream(copy.data());
  Attempt attempt;
  const bool ascii = is_ascii(text);
  auto generator = [&](Document&) {  // the handler already writes into the document
    if (ascii) {
      reader.Parse<kAsciiParseFlags>(stream, handler);
    } else {
      reader.Parse<kParseFlags>(stream, handler);
    }
    attempt.consumed = stream.Tell();
    return !reader.HasParseError();
  };
  document.Populate(generator);
  attempt.error = reader.GetParseErrorCode();
  attempt.error_offset = reader.GetErrorOffset();
  attempt.too_deep = handler.too_deep();
  attempt.has_big_integer = handler.has_big_integer();
  return attempt;
}

}  // namespace

JsonParser::JsonParser(int max_depth) : max_depth_(max_depth) {}

ParseOutcome JsonParser::parse(std::string_view bytes, ParsedDocument& out) {
  ParsedDocument::Storage& storage = *out.storage_;
  storage.document.SetNull();
  storage.allocator.Clear();  // frees every chunk but the inline one; old values are gone
  out.has_big_integer_ = false;

  ParseOutcome outcome;
  if (bytes.empty()) {
    outcome.error = "empty value";
    return outcome;
  }
  if (bytes.size() >= 3 && static_cast<unsigned char>(bytes[0]) == 0xEF &&
      static_cast<unsigned char>(bytes[1]) == 0xBB && static_cast<unsigned char>(bytes[2]) == 0xBF) {
    outcome.error = "starts with a UTF-8 byte order mark";
    return outcome;
  }
  if (bytes.size() > std::numeric_limits<rapidjson::SizeType>::max()) {
    outcome.error = "value larger than 4 GiB";
    return outcome;
  }

  std::string_view parsed = bytes;
  Attempt attempt = run_reader(reader_, parsed, {}, storage.document, max_depth_, storage.text);
  if (attempt.error == rapidjson::kParseErrorNumberTooBig &&
      substitute_long_numbers(bytes, storage.substituted, storage.substitutions)) {
    storage.document.SetNull();
    storage.allocator.Clear();
    parsed = storage.substituted;
    attempt = run_reader(reader_, parsed, storage.substitutions, storage.document, max_depth_, storage.text);
  }

  if (attempt.error != rapidjson::kParseErrorNone) {
    storage.document.SetNull();
    if (attempt.too_deep) {
      outcome.error = "nesting deeper than " + std::to_string(max_depth_) + " levels";
    } else {
      outcome.error = std::string(rapidjson::GetParseError_En(attempt.error)) + " at byte " +
                      std::to_string(attempt.error_offset);
    }
    return outcome;
  }
  // Only whitespace may follow the value; a NUL byte or a second value is an error, as it is
  // for Python's json.loads.
  size_t consumed = attempt.consumed;
  while (consumed < parsed.size() && is_json_whitespace(parsed[consumed])) ++consumed;
  if (consumed != parsed.size()) {
    storage.document.SetNull();
    outcome.error = "unexpected data after the JSON value at byte " + std::to_string(consumed);
    return outcome;
  }
  if (!storage.document.IsObject()) {
    storage.document.SetNull();
    outcome.error = "value is not a JSON object";
    return outcome;
  }
  out.has_big_integer_ = attempt.has_big_integer;
  outcome.ok = true;
  return outcome;
}

namespace {
// The last member with this name: duplicate keys resolve as they do in Python's json.loads.
const Value* find_last_member(const Value& object, std::string_view name) {
  if (!object.IsObject()) return nullptr;
  const Value* found = nullptr;
  for (auto it = object.MemberBegin(); it != object.MemberEnd(); ++it) {
    if (std::string_view(it->name.GetString(), it->name.GetStringLength()) == name) found = &it->value;
  }
  return found;
}
}  // namespace

std::string_view get_string(const Value& object, std::string_view name) {
  const Value* value = find_last_member(object, name);
  if (value == nullptr || !value->IsString()) return {};
  return {value->GetString(), value->GetStringLength()};
}

const Value* get_object(const Value& object, std::string_view name) {
  const Value* value = find_last_member(object, name);
  return value != nullptr && value->IsObject() ? value : nullptr;
}

}  // namespace sluice::json
