#pragma once
// The CPU stages of one worker in their fixed order (size → parse → schema → filter), and
// the shared data they need.
//
// StageResources is built once (and again on reload) and shared by every worker as
// shared_ptr<const StageResources>. Its parts are separate shared pointers so a reload can
// rebuild one part, keep the others, and keep the old part when the new one fails to load.
//
// Threading: a StageChain belongs to one worker thread. set_resources() is called on that
// thread between messages; the previous snapshot is released there, and freed once no
// other worker holds it.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "stages/keyword_matcher.h"
#include "stages/schema_registry.h"
#include "stages/sender_list.h"
#include "stages/stage.h"

namespace sluice::stages {

class SchemaStage;
class FilterStage;

struct StageResources {
  std::shared_ptr<const SchemaRegistry> schemas;
  std::shared_ptr<const SenderList> blocked_senders;
  std::shared_ptr<const KeywordMatcher> spam_keywords;
};

// Each loader appends every problem it finds to `errors` ("FILE:LINE:COL: what" when a
// position is known, "PATH: what" otherwise) and returns nullptr if it added any.
std::shared_ptr<const SchemaRegistry> load_schemas(const config::PipelineConfig& pipeline,
                                                   std::vector<std::string>& errors);
std::shared_ptr<const SenderList> load_blocked_senders(const config::FilterConfig& filter,
                                                       std::vector<std::string>& errors);
std::shared_ptr<const KeywordMatcher> build_spam_keywords(const config::FilterConfig& filter,
                                                          std::vector<std::string>& errors);

// All three parts; every part is attempted so that all problems are reported at once.
std::shared_ptr<const StageResources> load_stage_resources(const config::Config& config,
                                                           std::vector<std::string>& errors);

class StageChain {
 public:
  struct Outcome {
    StageResult result;      // Verdict::Continue when every stage let the message through
    std::string_view stage;  // the deciding stage's name (`error_stage`); empty on Continue
  };

  StageChain(const config::PipelineConfig& pipeline, std::shared_ptr<const StageResources> resources);
  ~StageChain();
  StageChain(const StageChain&) = delete;
  StageChain& operator=(const StageChain&) = delete;

  // Runs the stages in order and stops at the first verdict other than Continue.
  // With `durations`, also measures each stage that ran (in order; for metrics sampling).
  Outcome run(MessageContext& message, std::vector<std::chrono::nanoseconds>* durations = nullptr);

  void set_resources(std::shared_ptr<const StageResources> resources);
  const std::shared_ptr<const StageResources>& resources() const { return resources_; }
  const std::vector<StagePtr>& stages() const { return stages_; }

 private:
  std::shared_ptr<const StageResources> resources_;
  std::vector<StagePtr> stages_;
  SchemaStage* schema_ = nullptr;  // owned by stages_
  FilterStage* filter_ = nullptr;  // owned by stages_
};

}  // namespace sluice::stages
