#pragma once
// The dedup fingerprint, bit-for-bit the one the reference Python DuplicateDetector computes:
//
//   content = message without top-level timestamp, processed_at, correlation_id,
//             sequence_number; and, when payload is an object, payload without
//             timestamp and received_at
//   fingerprint = sha256(json.dumps(content, sort_keys=True, default=str).encode())
//
// json.dumps here means: separators ", " and ": ", every non-ASCII character escaped as
// \uXXXX (surrogate pairs above U+FFFF, lowercase hex), floats printed as Python's repr
// (shortest round-trip; exponent form below 1e-4 and from 1e16, e.g. 1e-05, 1e+16; ".0" on
// integral floats; inf as Infinity), integers exactly, and the last of duplicate keys kept.
// A fleet still running the Python detector therefore shares its Redis keys with sluice.
//
// Threading: a Fingerprinter belongs to one thread; it reuses its digest context and its
// canonical-text buffer between calls.

#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "json/json_parser.h"

namespace sluice::fingerprint {

struct Fingerprint {
  std::array<unsigned char, 32> bytes{};

  std::string hex() const;
  bool operator==(const Fingerprint& other) const = default;
};

struct FingerprintHash {
  size_t operator()(const Fingerprint& fp) const {
    size_t h;
    std::memcpy(&h, fp.bytes.data(), sizeof h);  // already a uniform hash
    return h;
  }
};

// SHA-256 of `bytes`, as 64 lowercase hex digits.
std::string sha256_hex(std::string_view bytes);

class Fingerprinter {
 public:
  Fingerprinter();
  ~Fingerprinter();
  Fingerprinter(const Fingerprinter&) = delete;
  Fingerprinter& operator=(const Fingerprinter&) = delete;

  // `document` is the parse of `raw`; `raw` is consulted only when the document holds an
  // integer too large for 64 bits (to print its exact digits).
  Fingerprint compute(const json::ParsedDocument& document, std::string_view raw);

  // The canonical text hashed by the last compute() (for tests and diagnostics).
  const std::string& last_canonical_text() const { return canonical_; }

 private:
  struct DigestContext;
  std::unique_ptr<DigestContext> digest_;
  std::string canonical_;
};

}  // namespace sluice::fingerprint
