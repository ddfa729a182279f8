#pragma once
// Prints a parsed JSON value byte for byte as Python's json.dumps(value, sort_keys=True)
// does with its other options at their defaults: separators ", " and ": ", ensure_ascii,
// floats as repr(), and the last of duplicate keys kept (json.loads keeps the last).
// fingerprint.h says why the bytes must match exactly.
//
// Threading: a writer belongs to one thread (one per Fingerprinter). Its output buffer and
// scratch vectors are kept between texts, so steady-state writing does not allocate.

#include <cstddef>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "json/json_parser.h"

namespace sluice::fingerprint {

// Members to leave out of an object, plus an optional rule for the object value of one
// member (the message's `payload`). Rules are static data that outlive every writer call.
struct OmitRule {
  std::span<const std::string_view> names;
  std::string_view nested_member;  // empty: no nested rule
  const OmitRule* nested = nullptr;

  bool omits(std::string_view name) const;
};

class PythonJsonWriter {
 public:
  // Starts a new text. Values written so far are dropped; a buffer grown past 1 MiB by an
  // unusually large message is given back.
  void reset();
  // The text written since reset(); valid until the next reset() or write.
  std::string_view text() const { return {buffer_.get(), size_}; }

  // Appends `object` (which must be an object) without what `rule` names; nullptr omits
  // nothing. Recursion follows the document's nesting, which JsonParser has bounded.
  void write_object(const json::Value& object, const OmitRule* rule);
  void write_value(const json::Value& value);

  // JsonParser keeps integers beyond 64 bits only as doubles. This finds their digits in
  // `raw` (the text `root` was parsed from) so they print exactly, as Python's int does,
  // until clear_big_integers().
  void collect_big_integers(const json::Value& root, std::string_view raw);
  void clear_big_integers();

 private:
  struct BigInteger {
    size_t ordinal;  // position among all numbers of the document, in text order
    std::string_view digits;
    const json::Value* value;
  };

  // Room for `extra` more bytes; returns where the next byte goes. Writers then store the
  // new end with commit().
  char* reserve(size_t extra) {
    if (capacity_ - size_ < extra) grow(extra);
    return buffer_.get() + size_;
  }
  void grow(size_t extra);
  void commit(const char* end) { size_ = static_cast<size_t>(end - buffer_.get()); }
  void append(std::string_view bytes);

  void write_string(std::string_view utf8);
  void write_float(double value);
  void write_number(const json::Value& value);
  void assign_big_integers(const json::Value& value, size_t& ordinal, size_t& next);

  std::unique_ptr<char[]> buffer_;
  size_t capacity_ = 0;
  size_t size_ = 0;
  std::vector<const json::Value::Member*> members_;  // a stack of per-object sort ranges
  std::vector<BigInteger> big_integers_;
};

}  // namespace sluice::fingerprint
