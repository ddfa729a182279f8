#pragma once
// Validates the parsed document against the schema registered for its message_type.
//
// Dead-letter reasons: `unknown_message_type` (message_type missing, not a string, or without
// a schema) and `schema_violation` (the detail names the failing path, e.g.
// "payload.from_email: not a valid email"). Structure is checked by the schema's
// StructureCheck where it has one, and by valijson (formats removed) for whatever that does not
// accept, so valijson words every violation; formats are checked by the schema's FormatPlan
// afterwards.
//
// Threading: one instance per worker thread (valijson's Validator caches `pattern` regexes
// and is not shareable). The registry is shared and immutable; set_registry() swaps it
// between messages on the worker's own thread.

#include <memory>
#include <string_view>

#include "stages/schema_registry.h"
#include "stages/stage.h"

namespace valijson {
class Validator;
}  // namespace valijson

namespace sluice::stages {

class SchemaStage final : public Stage {
 public:
  explicit SchemaStage(std::shared_ptr<const SchemaRegistry> registry);
  ~SchemaStage() override;

  void set_registry(std::shared_ptr<const SchemaRegistry> registry);

  // Stage
  std::string_view name() const override { return "schema"; }
  StageResult process(MessageContext& message) override;

 private:
  std::string describe_violation(const CompiledSchema& schema, const json::Value& document);

  std::shared_ptr<const SchemaRegistry> registry_;
  std::unique_ptr<valijson::Validator> validator_;
};

}  // namespace sluice::stages
