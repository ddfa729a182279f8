#pragma once
// The CPU half of the pipeline: size → parse → schema → filter. Each stage looks at one
// message and either lets it continue or gives it a final verdict with a reason. The I/O
// half (dedup, route, forward, DLQ) is driven by the engine, which batches it.
//
// Lifecycle: stages are built once from validated config by StageChain (stage_chain.h)
// and live as long as the engine. Threading: one Stage instance per worker thread; shared
// immutable data (schemas, sender lists, keyword automata) is held as shared_ptr<const T>
// and may be swapped for a new snapshot on reload.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/outcome.h"
#include "json/json_parser.h"

namespace sluice::stages {

// What one message looks like to the stages. Owned by the worker and reused per message.
struct MessageContext {
  std::string_view value;        // the raw record value, never modified; what is forwarded
  // What the stages parse and the fingerprint hashes: the value, or with
  // pipeline.value_framing: confluent the JSON after its 5-byte header (set by the parse stage).
  std::string_view payload;
  bool value_is_null = false;    // a tombstone (null value), distinct from an empty one
  json::ParsedDocument document;  // filled by the parse stage
  std::string_view channel;       // from the document, after parse; empty when absent
  std::string_view message_type;  // from the document, after parse; empty when absent

  void reset(std::string_view raw_value, bool is_null) {
    value = raw_value;
    payload = raw_value;
    value_is_null = is_null;
    channel = {};
    message_type = {};
  }
};

enum class Verdict {
  Continue,    // on to the next stage
  Filter,      // a deliberate rejection: counted, sent to rejected_topic when set
  DeadLetter,  // bad data: to the DLQ with the reason
};

struct StageResult {
  Verdict verdict = Verdict::Continue;
  Reason reason = Reason::Delivered;  // why it was filtered or dead-lettered (not set for Continue)
  std::string detail;       // for operators: what exactly is wrong (never the message body)

  static StageResult next() { return {}; }
  static StageResult filter(Reason reason, std::string detail = {}) {
    return {Verdict::Filter, reason, std::move(detail)};
  }
  static StageResult dead_letter(Reason reason, std::string detail = {}) {
    return {Verdict::DeadLetter, reason, std::move(detail)};
  }
};

class Stage {
 public:
  virtual ~Stage() = default;
  // Stable name, used as `error_stage` in DLQ records and as a metric label.
  virtual std::string_view name() const = 0;
  virtual StageResult process(MessageContext& message) = 0;
};

using StagePtr = std::unique_ptr<Stage>;

}  // namespace sluice::stages
