#pragma once
// SHA-256 for tests that check digests sluice writes (e.g. a DLQ envelope's original_sha256).

#include <string>
#include <string_view>

namespace sluice::test {

// Lowercase hex of SHA-256(bytes).
std::string sha256_hex(std::string_view bytes);

}  // namespace sluice::test
