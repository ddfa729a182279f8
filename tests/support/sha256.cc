#include "support/sha256.h"

#include <openssl/evp.h>

#include <stdexcept>

#include "common/text.h"

namespace sluice::test {

std::string sha256_hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &size, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("EVP_Digest(sha256) failed");
  }
  return text::to_hex(digest, size);
}

}  // namespace sluice::test
