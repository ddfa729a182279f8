// Fuzz target: one Kafka record through the message path as Engine::process runs it — the
// stage chain (size → parse → schema → filter) built from the repository's example config,
// then the route, then the dedup fingerprint — and, for bad data, the DLQ envelope as
// Engine::start_dead_letter builds it. Beyond "no crash, no UB, no leak", it checks what
// operators and the replay tool rely on: every verdict is one of the known (stage, reason)
// pairs, a forwarded message has the fingerprint of its canonical text, the canonical text
// is a fixed point (parsing and fingerprinting it again gives the same text), and the DLQ
// envelope is valid JSON that gives back the original value, key and reason exactly.
//
// Input: a plain input is the record value (no key, no headers), so the seed corpus is
// readable JSON. An input whose first byte is 0x00 (never a valid value anyway) is framed:
//   [0] 0x00  [1] flags  [2] key length  [3] header length  key  header  value (the rest)
// flags: bit 0 tombstone (null value), bit 1 the record has a key, bit 2 the tight chain
// (small size and depth limits, so `too_large` and the depth limit are reached),
// bit 3 the truncated envelope (as when the envelope would exceed message.max.bytes).
// The header is what a retry-tier record carries in sluice-original-topic/-partition/
// -offset and sluice-retry-count; the engine reads all of them from untrusted records.

#include <algorithm>
#include <chrono>
#include <exception>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <openssl/evp.h>

#include "common/text.h"
#include "config/loader.h"
#include "engine/dead_letter_envelope.h"
#include "common/outcome.h"
#include "engine/router.h"
#include "fingerprint/fingerprint.h"
#include "json/json_parser.h"
#include "stages/schema_registry.h"
#include "stages/stage_chain.h"
#include "stages/valijson.h"

#include "fuzz_check.h"

const char* const sluice::fuzz::kTargetName = "fuzz_message";

namespace {

using namespace sluice;

using fuzz::check;
using fuzz::fail;

std::string resolve(const std::string& path) {
  if (path.empty() || path.front() == '/') return path;
  return std::string(SLUICE_SOURCE_DIR) + "/" + path;
}

// Everything built once from config/sluice.yaml. Paths in the file are relative to the
// working directory, as the daemon resolves them; the fuzzer runs elsewhere, so they are
// resolved against the source tree instead.
struct Harness {
  std::shared_ptr<const config::Config> config;
  config::PipelineConfig tight;  // the example pipeline with small limits
  std::unique_ptr<stages::StageChain> chain;
  std::unique_ptr<stages::StageChain> tight_chain;
  std::unique_ptr<engine::Router> router;
  std::shared_ptr<const stages::SchemaRegistry> schemas;
  valijson::Validator validator;
  stages::MessageContext context;  // reused between records, as the engine's worker does
  fingerprint::Fingerprinter fingerprinter;
  fingerprint::Fingerprinter refingerprinter;
  json::JsonParser reparser{1000};  // canonical text nests exactly as deep as its message
  json::ParsedDocument reparsed;
  json::JsonParser envelope_parser{8};
  json::ParsedDocument envelope;

  Harness() {
    // A fixed, empty environment: what is fuzzed must not depend on the machine's variables.
    config::EnvLookup no_env = [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
    config::LoadResult loaded = config::load_file(std::string(SLUICE_SOURCE_DIR) + "/config/sluice.yaml", no_env);
    if (!loaded.ok()) fail("config/sluice.yaml does not load", loaded.errors.front());
    auto resolved = std::make_shared<config::Config>(*loaded.config);
    resolved->pipeline.schemas_dir = resolve(resolved->pipeline.schemas_dir);
    resolved->pipeline.filter.blocked_senders_file = resolve(resolved->pipeline.filter.blocked_senders_file);
    config = resolved;

    std::vector<std::string> errors;
    std::shared_ptr<const stages::StageResources> resources = stages::load_stage_resources(*config, errors);
    if (!resources) fail("stage resources of config/sluice.yaml do not load", errors.front());
    schemas = resources->schemas;
    chain = std::make_unique<stages::StageChain>(config->pipeline, resources);
    tight = config->pipeline;
    tight.max_message_bytes = 256;
    tight.max_json_depth = 4;
    tight_chain = std::make_unique<stages::StageChain>(tight, resources);
    router = std::make_unique<engine::Router>(config->routes);
  }
};

Harness& harness() {
  static Harness* instance = new Harness();  // never destroyed: libFuzzer may exit from any thread
  return *instance;
}

struct Record {
  std::string_view value;
  bool value_is_null = false;
  bool has_key = false;
  std::string_view key;
  std::optional<std::string_view> header;
  bool tight = false;
  bool truncated_envelope = false;
};

Record split(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  Record record;
  if (input.empty() || input.front() != '\0') {
    record.value = input;
    return record;
  }
  auto byte = [&](size_t i) { return i < input.size() ? static_cast<unsigned char>(input[i]) : 0u; };
  unsigned flags = byte(1);
  size_t rest = std::min<size_t>(input.size(), 4);
  size_t key_size = std::min<size_t>(byte(2), input.size() - rest);
  record.key = input.substr(rest, key_size);
  rest += key_size;
  size_t header_size = std::min<size_t>(byte(3), input.size() - rest);
  if (header_size > 0) record.header = input.substr(rest, header_size);
  rest += header_size;
  record.value_is_null = (flags & 1u) != 0;
  record.value = record.value_is_null ? std::string_view() : input.substr(rest);
  record.has_key = (flags & 2u) != 0;
  record.tight = (flags & 4u) != 0;
  record.truncated_envelope = (flags & 8u) != 0;
  return record;
}

bool known_dead_letter(std::string_view stage, Reason reason) {
  return (stage == "size" && reason == Reason::TooLarge) || (stage == "parse" && reason == Reason::InvalidJson) ||
         (stage == "schema" && (reason == Reason::UnknownMessageType || reason == Reason::SchemaViolation)) ||
         (stage == stage_name::kRoute && reason == Reason::NoRoute);
}

bool is_ascii(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

// The fingerprint of a parsed object, checked against its canonical text; then that text is
// parsed and fingerprinted again, which must reproduce it byte for byte (the volatile fields
// are already gone, keys already sorted and unique, numbers already in their shortest form).
void check_fingerprint(Harness& h, const json::ParsedDocument& document, std::string_view raw) {
  fingerprint::Fingerprint fp = h.fingerprinter.compute(document, raw);
  const std::string& canonical = h.fingerprinter.last_canonical_text();
  check(!canonical.empty() && canonical.front() == '{' && canonical.back() == '}', "canonical text is not an object",
        canonical);
  check(is_ascii(canonical), "canonical text is not ASCII (json.dumps escapes everything else)", canonical);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_size = 0;
  EVP_Digest(canonical.data(), canonical.size(), digest, &digest_size, EVP_sha256(), nullptr);
  check(digest_size == fp.bytes.size() && std::equal(fp.bytes.begin(), fp.bytes.end(), digest),
        "fingerprint is not the SHA-256 of the canonical text", canonical);
  check(h.fingerprinter.compute(document, raw) == fp, "fingerprinting the same document twice differs", canonical);

  json::ParseOutcome reparsed = h.reparser.parse(canonical, h.reparsed);
  if (!reparsed.ok) {
    // Python prints an overflowing float as Infinity, which is not JSON.
    check(canonical.find("Infinity") != std::string::npos, "canonical text does not parse",
          reparsed.error + " in " + canonical);
    return;
  }
  h.refingerprinter.compute(h.reparsed, canonical);
  check(h.refingerprinter.last_canonical_text() == canonical, "canonical text is not a fixed point",
        canonical + "\n  became\n" + h.refingerprinter.last_canonical_text());
}

std::string_view member_string(const json::Value& object, const char* name) {
  const json::Value* found = nullptr;
  for (auto it = object.MemberBegin(); it != object.MemberEnd(); ++it) {
    if (std::string_view(it->name.GetString(), it->name.GetStringLength()) == name) {
      check(found == nullptr, "envelope repeats a member", name);
      found = &it->value;
    }
  }
  check(found != nullptr && found->IsString(), "envelope lacks a string member", name);
  return {found->GetString(), found->GetStringLength()};
}

const json::Value* member(const json::Value& object, const char* name) {
  auto it = object.FindMember(name);
  return it == object.MemberEnd() ? nullptr : &it->value;
}

std::string decoded_base64(const json::Value& object, const char* name) {
  std::optional<std::string> bytes = text::base64_decode(member_string(object, name));
  check(bytes.has_value(), "envelope member is not canonical base64", name);
  return *bytes;
}

// Builds the DLQ envelope as Engine::start_dead_letter does for this record, and checks that
// a consumer of the DLQ gets back exactly what was consumed.
void check_dead_letter(Harness& h, const Record& record, std::string_view stage, std::string_view reason,
                       const std::string& detail) {
  // A retry-tier record says where it first came from, in headers the engine parses.
  std::string_view header = record.header.value_or(std::string_view());
  std::string origin_topic(record.header.value_or("inbound.email"));
  engine::DeadLetterInfo info;
  info.value = record.value;
  info.value_is_null = record.value_is_null;
  info.key = record.has_key ? record.key.data() : nullptr;
  info.key_size = record.has_key ? record.key.size() : 0;
  info.topic = origin_topic;
  info.partition = static_cast<int32_t>(text::parse_int(header).value_or(3));
  info.offset = text::parse_int(header).value_or(1234);
  info.retry_count = static_cast<int>(std::clamp<int64_t>(text::parse_int(header).value_or(0), 0, 1000));
  info.timestamp_ms = text::parse_int(header).value_or(-1);
  info.error = reason;
  info.error_stage = stage;
  info.error_detail = detail;
  info.failed_at = std::chrono::system_clock::time_point(std::chrono::seconds(1764151928));
  if (record.truncated_envelope) info.embed_limit = record.value.size() / 2;
  std::string envelope = engine::build_dead_letter_envelope(info);

  json::ParseOutcome parsed = h.envelope_parser.parse(envelope, h.envelope);
  check(parsed.ok, "DLQ envelope is not a valid JSON object", parsed.error + " in " + envelope);
  const json::Value& root = h.envelope.root();

  const json::Value* original = member(root, "original_message");
  if (record.value_is_null) {
    check(original != nullptr && original->IsNull(), "tombstone envelope lacks original_message: null", envelope);
    const json::Value* null_flag = member(root, "original_message_null");
    check(null_flag != nullptr && null_flag->IsTrue(), "tombstone envelope lacks original_message_null", envelope);
  } else if (record.value.size() > info.embed_limit) {
    check(original == nullptr, "truncated envelope still has original_message", envelope);
    check(decoded_base64(root, "original_message_base64") == record.value.substr(0, info.embed_limit),
          "truncated envelope does not hold the value's first bytes", envelope);
    const json::Value* size = member(root, "original_size");
    check(size != nullptr && size->IsUint64() && size->GetUint64() == record.value.size(),
          "truncated envelope has the wrong original_size", envelope);
    check(member_string(root, "original_sha256").size() == 64, "original_sha256 is not a SHA-256", envelope);
  } else if (text::is_valid_utf8(record.value)) {
    check(member_string(root, "original_message") == record.value, "original_message differs from the value",
          envelope);
  } else {
    check(original == nullptr, "non-UTF-8 value also in original_message", envelope);
    check(decoded_base64(root, "original_message_base64") == record.value,
          "original_message_base64 differs from the value", envelope);
  }

  const json::Value* key = member(root, "original_key");
  if (!record.has_key) {
    check(key != nullptr && key->IsNull(), "keyless record's envelope lacks original_key: null", envelope);
  } else if (text::is_valid_utf8(record.key)) {
    check(member_string(root, "original_key") == record.key, "original_key differs from the key", envelope);
  } else {
    check(key == nullptr, "non-UTF-8 key also in original_key", envelope);
    check(decoded_base64(root, "original_key_base64") == record.key, "original_key_base64 differs from the key",
          envelope);
  }

  check(member_string(root, "error") == reason, "envelope error differs", envelope);
  check(member_string(root, "error_stage") == stage, "envelope error_stage differs", envelope);
  if (text::is_valid_utf8(detail)) {
    check(member_string(root, "error_detail") == detail, "envelope error_detail differs", envelope);
  }
  if (text::is_valid_utf8(origin_topic)) {
    check(member_string(root, "original_topic") == origin_topic, "envelope original_topic differs", envelope);
  }
  const json::Value* partition = member(root, "original_partition");
  check(partition != nullptr && partition->IsInt() && partition->GetInt() == info.partition,
        "envelope original_partition differs", envelope);
  const json::Value* offset = member(root, "original_offset");
  check(offset != nullptr && offset->IsInt64() && offset->GetInt64() == info.offset,
        "envelope original_offset differs", envelope);
  const json::Value* timestamp = member(root, "original_timestamp");
  check(info.timestamp_ms < 0 ? timestamp == nullptr
                              : timestamp != nullptr && timestamp->IsInt64() && timestamp->GetInt64() == info.timestamp_ms,
        "envelope original_timestamp differs", envelope);
  check(member_string(root, "failed_at") == "2025-11-26T10:12:08.000Z", "envelope failed_at differs", envelope);
  const json::Value* retries = member(root, "retry_count");
  check(retries != nullptr && retries->IsInt() && retries->GetInt() == info.retry_count,
        "envelope retry_count differs", envelope);
  const json::Value* exceeded = member(root, "max_retries_exceeded");
  check(exceeded != nullptr && exceeded->IsFalse(), "envelope max_retries_exceeded is not false", envelope);
}

// The schema stage's quick check may only say "valid" where valijson says so too (it is unsure
// about the rest, which valijson then decides).
void check_quick_structure(Harness& h, const stages::MessageContext& context) {
  const stages::CompiledSchema* schema = h.schemas->find(context.message_type);
  if (schema == nullptr || !schema->quick_check()) return;
  const json::Value& document = context.document.root();
  if (!schema->quick_check()->accepts(document)) return;
  bool valid = false;
  try {
    valid = h.validator.validate(schema->structure(), valijson::adapters::RapidJsonAdapter(document), nullptr);
  } catch (const std::exception& e) {
    fail("valijson threw on a document the quick check accepts", e.what());
  }
  check(valid, "the quick structure check accepts what valijson rejects", context.message_type);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Harness& h = harness();
  Record record = split(data, size);

  stages::MessageContext& context = h.context;
  context.reset(record.value, record.value_is_null);
  stages::StageChain& chain = record.tight ? *h.tight_chain : *h.chain;
  stages::StageChain::Outcome outcome = chain.run(context);
  // After a size verdict the context still holds the previous record's document.
  const bool parsed = outcome.result.verdict == stages::Verdict::Continue ||
                      (outcome.stage != "size" && outcome.stage != "parse");

  switch (outcome.result.verdict) {
    case stages::Verdict::DeadLetter:
      check(known_dead_letter(outcome.stage, outcome.result.reason), "unknown dead-letter verdict",
            std::string(outcome.stage) + "/" + std::string(reason_label(outcome.result.reason)));
      check(!outcome.result.detail.empty(), "dead-letter verdict without a detail", reason_label(outcome.result.reason));
      check_dead_letter(h, record, outcome.stage, reason_label(outcome.result.reason), outcome.result.detail);
      break;
    case stages::Verdict::Filter:
      check(outcome.stage == "filter" &&
                (outcome.result.reason == Reason::BlockedSender || outcome.result.reason == Reason::Spam),
            "unknown filter verdict", std::string(outcome.stage) + "/" + std::string(reason_label(outcome.result.reason)));
      break;
    case stages::Verdict::Continue: {
      check(outcome.stage.empty(), "a passed message names a deciding stage", outcome.stage);
      // Schema validation guarantees both; routing and dedup depend on them.
      check(!context.channel.empty() && !context.message_type.empty(), "passed message without channel or type");
      int route = h.router->match(context.channel, context.message_type);
      if (route < 0) {
        std::string detail = "no route matches channel=\"" + std::string(context.channel) + "\" message_type=\"" +
                             std::string(context.message_type) + "\"";
        check_dead_letter(h, record, stage_name::kRoute, reason_label(Reason::NoRoute), detail);
      }
      break;
    }
  }
  // Every parsed object is fingerprinted, not only forwarded ones (as `sluice fingerprint`
  // does), so the fingerprint code sees every shape the parser accepts, not only events
  // that satisfy the schemas.
  if (parsed) {
    check(context.document.root().IsObject(), "parse stage passed but the document is not an object");
    check_fingerprint(h, context.document, record.value);
    check_quick_structure(h, context);
  }
  return 0;
}
