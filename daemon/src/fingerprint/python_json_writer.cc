#include "fingerprint/python_json_writer.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>

#include "common/assert.h"

namespace sluice::fingerprint {

bool OmitRule::omits(std::string_view name) const {
  return std::find(names.begin(), names.end(), name) != names.end();
}

namespace {

using Member = json::Value::Member;

constexpr char kHexDigits[] = "0123456789abcdef";

// How json.dumps (ensure_ascii) prints each byte of a UTF-8 string: printable ASCII as
// itself, the short escapes, other ASCII as \u00XX, and lead bytes start a code point.
enum class ByteClass : unsigned char { Plain, ShortEscape, Unicode, Lead };

constexpr std::array<ByteClass, 256> make_byte_classes() {
  std::array<ByteClass, 256> classes{};
  for (int c = 0; c < 256; ++c) {
    if (c >= 0x80) {
      classes[c] = ByteClass::Lead;
    } else if (c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f') {
      classes[c] = ByteClass::ShortEscape;
    } else if (c < 0x20 || c == 0x7F) {
      classes[c] = ByteClass::Unicode;
    } else {
      classes[c] = ByteClass::Plain;
    }
  }
  return classes;
}

constexpr std::array<ByteClass, 256> kByteClasses = make_byte_classes();

char short_escape(unsigned char c) {
  switch (c) {
    case '"': return '"';
    case '\\': return '\\';
    case '\n': return 'n';
    case '\r': return 'r';
    case '\t': return 't';
    case '\b': return 'b';
    default: return 'f';
  }
}

char* put_u_escape(char* p, uint32_t unit) {
  p[0] = '\\';
  p[1] = 'u';
  p[2] = kHexDigits[(unit >> 12) & 0xF];
  p[3] = kHexDigits[(unit >> 8) & 0xF];
  p[4] = kHexDigits[(unit >> 4) & 0xF];
  p[5] = kHexDigits[unit & 0xF];
  return p + 6;
}

// Whether any of 8 bytes is not printed as itself: below 0x20, DEL, non-ASCII, '"' or '\\'.
// Word-at-a-time tests (exact as a yes/no answer) let plain text through 8 bytes per step.
constexpr uint64_t kOnes = 0x0101010101010101ULL;
constexpr uint64_t kHighBits = 0x8080808080808080ULL;

constexpr uint64_t has_zero_byte(uint64_t word) { return (word - kOnes) & ~word & kHighBits; }

constexpr bool needs_escape(uint64_t word) {
  uint64_t below_space = (word - kOnes * 0x20) & ~word & kHighBits;
  return (below_space | (word & kHighBits) | has_zero_byte(word ^ (kOnes * 0x7F)) |
          has_zero_byte(word ^ (kOnes * '"')) | has_zero_byte(word ^ (kOnes * '\\'))) != 0;
}

std::string_view name_of(const Member* member) {
  return {member->name.GetString(), member->name.GetStringLength()};
}

// Byte order of UTF-8 is code point order, which is how Python sorts str keys. Equal names
// keep their text order (members of one object share an array), so the last of a run of
// duplicates is the one json.loads would have kept. Most keys differ in their first byte,
// which is checked before paying for a memcmp call.
bool member_before(const Member* a, const Member* b) {
  std::string_view x = name_of(a);
  std::string_view y = name_of(b);
  if (!x.empty() && !y.empty() && x[0] != y[0]) {
    return static_cast<unsigned char>(x[0]) < static_cast<unsigned char>(y[0]);
  }
  int order = x.compare(y);
  if (order != 0) return order < 0;
  return std::less<const Member*>()(a, b);
}

bool is_number_char(char c) {
  return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

// An integer literal JsonParser could not keep as int64 or uint64 (the same test it uses).
bool is_big_integer_literal(std::string_view text) {
  if (text.find_first_of(".eE") != std::string_view::npos) return false;
  const char* end = text.data() + text.size();
  int64_t signed_value = 0;
  auto signed_result = std::from_chars(text.data(), end, signed_value);
  if (signed_result.ec == std::errc() && signed_result.ptr == end) return false;
  if (text.front() != '-') {
    uint64_t unsigned_value = 0;
    auto unsigned_result = std::from_chars(text.data(), end, unsigned_value);
    if (unsigned_result.ec == std::errc() && unsigned_result.ptr == end) return false;
  }
  return true;
}

constexpr size_t kInitialCapacity = 4096;
constexpr size_t kStringSlice = 64 * 1024;
constexpr size_t kKeptCapacity = 1024 * 1024;

}  // namespace

void PythonJsonWriter::reset() {
  size_ = 0;
  if (capacity_ > kKeptCapacity) {
    buffer_.reset();
    capacity_ = 0;
  }
}

void PythonJsonWriter::grow(size_t extra) {
  size_t capacity = std::max({capacity_ * 2, size_ + extra, kInitialCapacity});
  auto grown = std::make_unique_for_overwrite<char[]>(capacity);
  if (size_ != 0) std::memcpy(grown.get(), buffer_.get(), size_);
  buffer_ = std::move(grown);
  capacity_ = capacity;
}

void PythonJsonWriter::append(std::string_view bytes) {
  char* p = reserve(bytes.size());
  std::memcpy(p, bytes.data(), bytes.size());
  commit(p + bytes.size());
}

void PythonJsonWriter::write_string(std::string_view utf8) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(utf8.data());
  const size_t size = utf8.size();
  // Each input byte becomes at most 6 output bytes (a control byte as \u00XX; a 4-byte
  // sequence as a 12-byte surrogate pair). Room is reserved a slice at a time, so a long
  // string of plain text does not ask for six times its size; a step may run up to 7 bytes
  // past the slice, which the margin (also holding the quotes) covers.
  char* p = reserve(6 * std::min(size, kStringSlice) + 64);
  *p++ = '"';
  size_t i = 0;
  for (;;) {
    const size_t slice_end = std::min(size, i + kStringSlice);
    while (i < slice_end) {
      if (size - i >= 8) {
        uint64_t word;
        std::memcpy(&word, bytes + i, 8);
        if (!needs_escape(word)) {
          std::memcpy(p, bytes + i, 8);
          p += 8;
          i += 8;
          continue;
        }
      }
      unsigned char c = bytes[i];
      switch (kByteClasses[c]) {
        case ByteClass::Plain:
          // Up to the next byte to escape or the slice's end (most keys and values end in
          // a short plain run).
          do {
            *p++ = static_cast<char>(bytes[i++]);
          } while (i < slice_end && kByteClasses[bytes[i]] == ByteClass::Plain);
          break;
        case ByteClass::ShortEscape:
          *p++ = '\\';
          *p++ = short_escape(c);
          ++i;
          break;
        case ByteClass::Unicode:
          p = put_u_escape(p, c);
          ++i;
          break;
        case ByteClass::Lead: {
          // The parser validated the encoding, so the sequence is complete; it may be the
          // 3-byte form of an escaped lone low surrogate, which decodes like any code point
          // and prints as \udcxx, as Python prints it.
          size_t length = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
          SLUICE_ASSERT(c >= 0xC0 && i + length <= size, "strings reaching the writer are valid UTF-8");
          uint32_t code_point = c & (0x7F >> length);
          for (size_t k = 1; k < length; ++k) code_point = (code_point << 6) | (bytes[i + k] & 0x3F);
          if (code_point >= 0x10000) {
            code_point -= 0x10000;
            p = put_u_escape(p, 0xD800 | (code_point >> 10));
            p = put_u_escape(p, 0xDC00 | (code_point & 0x3FF));
          } else {
            p = put_u_escape(p, code_point);
          }
          i += length;
          break;
        }
      }
    }
    if (i >= size) break;
    commit(p);
    p = reserve(6 * std::min(size - i, kStringSlice) + 64);
  }
  *p++ = '"';
  commit(p);
}

void PythonJsonWriter::write_float(double value) {
  if (std::isnan(value)) {
    append("NaN");
    return;
  }
  if (std::isinf(value)) {
    append(value < 0 ? "-Infinity" : "Infinity");
    return;
  }
  // Shortest round-trip digits, as repr() picks them; only the layout differs.
  char text[32];
  auto result = std::to_chars(text, text + sizeof text, value, std::chars_format::scientific);
  const char* t = text;
  char* p = reserve(32);  // the longest repr is 24 bytes, e.g. -2.2250738585072014e-308
  if (*t == '-') {
    *p++ = '-';
    ++t;
  }
  char digits[20];
  int count = 0;
  for (; *t != 'e'; ++t) {
    if (*t != '.') digits[count++] = *t;
  }
  ++t;
  bool negative_exponent = *t == '-';
  ++t;  // to_chars always writes the exponent's sign
  int magnitude = 0;
  std::from_chars(t, result.ptr, magnitude);
  int exponent = negative_exponent ? -magnitude : magnitude;

  if (exponent < -4 || exponent >= 16) {
    *p++ = digits[0];
    if (count > 1) {
      *p++ = '.';
      p = std::copy(digits + 1, digits + count, p);
    }
    *p++ = 'e';
    *p++ = negative_exponent ? '-' : '+';
    if (magnitude < 10) *p++ = '0';
    p = std::to_chars(p, p + 4, magnitude).ptr;
  } else if (exponent < 0) {
    *p++ = '0';
    *p++ = '.';
    p = std::fill_n(p, -exponent - 1, '0');
    p = std::copy(digits, digits + count, p);
  } else if (exponent + 1 >= count) {
    p = std::copy(digits, digits + count, p);
    p = std::fill_n(p, exponent + 1 - count, '0');
    *p++ = '.';
    *p++ = '0';
  } else {
    p = std::copy(digits, digits + exponent + 1, p);
    *p++ = '.';
    p = std::copy(digits + exponent + 1, digits + count, p);
  }
  commit(p);
}

void PythonJsonWriter::write_object(const json::Value& object, const OmitRule* rule) {
  const size_t base = members_.size();
  for (auto it = object.MemberBegin(); it != object.MemberEnd(); ++it) {
    if (rule != nullptr && rule->omits(name_of(&*it))) continue;
    members_.push_back(&*it);
  }
  std::sort(members_.begin() + static_cast<std::ptrdiff_t>(base), members_.end(), member_before);

  append("{");
  bool first = true;
  // Nested objects push their own range above ours, which may move the vector: index it
  // afresh on every step.
  const size_t end = members_.size();
  for (size_t i = base; i < end; ++i) {
    const Member* member = members_[i];
    std::string_view name = name_of(member);
    if (i + 1 < end && name_of(members_[i + 1]) == name) continue;  // a later one wins
    if (!first) append(", ");
    first = false;
    write_string(name);
    append(": ");
    const json::Value& value = member->value;
    if (value.IsObject()) {
      const OmitRule* nested = nullptr;
      if (rule != nullptr && rule->nested != nullptr && name == rule->nested_member) nested = rule->nested;
      write_object(value, nested);
    } else {
      write_value(value);
    }
  }
  append("}");
  members_.resize(base);
}

void PythonJsonWriter::write_value(const json::Value& value) {
  switch (value.GetType()) {
    case rapidjson::kNullType:
      append("null");
      break;
    case rapidjson::kFalseType:
      append("false");
      break;
    case rapidjson::kTrueType:
      append("true");
      break;
    case rapidjson::kStringType:
      write_string({value.GetString(), value.GetStringLength()});
      break;
    case rapidjson::kNumberType:
      write_number(value);
      break;
    case rapidjson::kObjectType:
      write_object(value, nullptr);
      break;
    case rapidjson::kArrayType: {
      append("[");
      bool first = true;
      for (const json::Value& element : value.GetArray()) {
        if (!first) append(", ");
        first = false;
        write_value(element);
      }
      append("]");
      break;
    }
  }
}

void PythonJsonWriter::write_number(const json::Value& value) {
  if (value.IsDouble()) {
    for (const BigInteger& big : big_integers_) {
      if (big.value == &value) {
        append(big.digits);
        return;
      }
    }
    write_float(value.GetDouble());
    return;
  }
  char* p = reserve(24);
  p = value.IsInt64() ? std::to_chars(p, p + 24, value.GetInt64()).ptr : std::to_chars(p, p + 24, value.GetUint64()).ptr;
  commit(p);
}

void PythonJsonWriter::collect_big_integers(const json::Value& root, std::string_view raw) {
  big_integers_.clear();
  // Every number in the text, in order, is the same number in the document, in order. The
  // text parsed, so a string is exactly a quote to the next unescaped quote, and outside
  // strings a '-' or a digit can only start a number.
  size_t ordinal = 0;
  size_t i = 0;
  while (i < raw.size()) {
    char c = raw[i];
    if (c == '"') {
      for (++i; i < raw.size() && raw[i] != '"'; ++i) {
        if (raw[i] == '\\') ++i;
      }
      ++i;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      size_t start = i;
      while (i < raw.size() && is_number_char(raw[i])) ++i;
      std::string_view text = raw.substr(start, i - start);
      // JSON has no leading zeros or plus signs, so these digits are already what Python's
      // int() prints (and a too-large "-0" cannot exist).
      if (is_big_integer_literal(text)) big_integers_.push_back({ordinal, text, nullptr});
      ++ordinal;
    } else {
      ++i;
    }
  }
  size_t number_ordinal = 0;
  size_t next = 0;
  assign_big_integers(root, number_ordinal, next);
  SLUICE_ASSERT(next == big_integers_.size(), "raw must be the text the document was parsed from");
}

void PythonJsonWriter::assign_big_integers(const json::Value& value, size_t& ordinal, size_t& next) {
  if (next == big_integers_.size()) return;
  if (value.IsNumber()) {
    if (big_integers_[next].ordinal == ordinal) {
      SLUICE_ASSERT(value.IsDouble(), "raw must be the text the document was parsed from");
      big_integers_[next].value = &value;
      ++next;
    }
    ++ordinal;
  } else if (value.IsObject()) {
    for (auto it = value.MemberBegin(); it != value.MemberEnd() && next < big_integers_.size(); ++it) {
      assign_big_integers(it->value, ordinal, next);
    }
  } else if (value.IsArray()) {
    for (const json::Value& element : value.GetArray()) assign_big_integers(element, ordinal, next);
  }
}

void PythonJsonWriter::clear_big_integers() { big_integers_.clear(); }

}  // namespace sluice::fingerprint
