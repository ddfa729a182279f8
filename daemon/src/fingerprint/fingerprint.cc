#include "fingerprint/fingerprint.h"

#include <stdexcept>

#include <openssl/evp.h>

#include "common/assert.h"
#include "common/text.h"
#include "fingerprint/python_json_writer.h"

namespace sluice::fingerprint {

namespace {

struct MdFree {
  void operator()(EVP_MD* md) const { EVP_MD_free(md); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

// The fields the reference detector leaves out: they differ between two deliveries of the
// same event.
constexpr std::string_view kVolatilePayloadFields[] = {"timestamp", "received_at"};
constexpr OmitRule kPayloadRule{kVolatilePayloadFields, {}, nullptr};
constexpr std::string_view kVolatileMessageFields[] = {"timestamp", "processed_at", "correlation_id",
                                                       "sequence_number"};
constexpr OmitRule kMessageRule{kVolatileMessageFields, "payload", &kPayloadRule};

constexpr size_t kKeptCanonicalCapacity = 1024 * 1024;

}  // namespace

// Everything a Fingerprinter reuses between calls: the SHA-256 implementation, fetched once
// (an implicit fetch per call costs as much as hashing a short message), one digest
// context, and the writer's scratch space.
struct Fingerprinter::DigestContext {
  std::unique_ptr<EVP_MD, MdFree> md;
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx;
  PythonJsonWriter writer;
};

std::string Fingerprint::hex() const { return text::to_hex(bytes.data(), bytes.size()); }

std::string sha256_hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &size, EVP_sha256(), nullptr);
  return text::to_hex(digest, size);
}

Fingerprinter::Fingerprinter() : digest_(std::make_unique<DigestContext>()) {
  // Construction happens at startup; without SHA-256 the daemon cannot run at all.
  digest_->md.reset(EVP_MD_fetch(nullptr, "SHA256", nullptr));
  if (!digest_->md) throw std::runtime_error("OpenSSL provides no SHA-256");
  digest_->ctx.reset(EVP_MD_CTX_new());
  if (!digest_->ctx) throw std::runtime_error("cannot allocate an OpenSSL digest context");
}

Fingerprinter::~Fingerprinter() = default;

Fingerprint Fingerprinter::compute(const json::ParsedDocument& document, std::string_view raw) {
  const json::Value& root = document.root();
  SLUICE_ASSERT(root.IsObject(), "only successfully parsed messages are fingerprinted");

  PythonJsonWriter& writer = digest_->writer;
  writer.reset();
  if (document.has_big_integer()) writer.collect_big_integers(root, raw);
  writer.write_object(root, &kMessageRule);
  if (document.has_big_integer()) writer.clear_big_integers();
  canonical_.assign(writer.text());
  // One unusually large message should not pin its buffer for the life of the thread.
  if (canonical_.capacity() > kKeptCanonicalCapacity && canonical_.size() < kKeptCanonicalCapacity / 4) {
    canonical_.shrink_to_fit();
  }

  // With a fetched EVP_MD and an existing context these calls fail only on programming
  // errors, never because of the message.
  Fingerprint fingerprint;
  unsigned int length = 0;
  EVP_MD_CTX* ctx = digest_->ctx.get();
  bool hashed = EVP_DigestInit_ex2(ctx, digest_->md.get(), nullptr) == 1 &&
                EVP_DigestUpdate(ctx, canonical_.data(), canonical_.size()) == 1 &&
                EVP_DigestFinal_ex(ctx, fingerprint.bytes.data(), &length) == 1;
  SLUICE_ASSERT(hashed && length == fingerprint.bytes.size(), "SHA-256 over a buffer cannot fail");
  return fingerprint;
}

}  // namespace sluice::fingerprint
