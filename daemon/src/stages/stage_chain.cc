#include "stages/stage_chain.h"

#include <utility>

#include "common/assert.h"
#include "stages/filter_stage.h"
#include "stages/parse_stage.h"
#include "stages/schema_stage.h"
#include "stages/size_stage.h"

namespace sluice::stages {

namespace {
// Bounds the keyword table (rows = keyword bytes, see keyword_matcher.h) to tens of MiB.
constexpr size_t kMaxSpamKeywordBytes = 64 * 1024;
}  // namespace

std::shared_ptr<const SchemaRegistry> load_schemas(const config::PipelineConfig& pipeline,
                                                   std::vector<std::string>& errors) {
  return load_schema_registry(pipeline.schemas_dir, errors);
}

std::shared_ptr<const SenderList> load_blocked_senders(const config::FilterConfig& filter,
                                                       std::vector<std::string>& errors) {
  return load_sender_list(filter.blocked_senders_file, errors);
}

std::shared_ptr<const KeywordMatcher> build_spam_keywords(const config::FilterConfig& filter,
                                                          std::vector<std::string>& errors) {
  size_t errors_before = errors.size();
  size_t total_bytes = 0;
  for (size_t i = 0; i < filter.spam_keywords.size(); ++i) {
    if (filter.spam_keywords[i].empty()) {
      errors.push_back("pipeline.filter.spam_keywords[" + std::to_string(i) +
                       "]: empty keyword (it would match every message)");
    }
    total_bytes += filter.spam_keywords[i].size();
  }
  if (total_bytes > kMaxSpamKeywordBytes) {
    errors.push_back("pipeline.filter.spam_keywords: " + std::to_string(total_bytes) + " bytes of keywords, more than " +
                     std::to_string(kMaxSpamKeywordBytes));
  }
  if (errors.size() != errors_before) return nullptr;
  return std::make_shared<const KeywordMatcher>(filter.spam_keywords);
}

std::shared_ptr<const StageResources> load_stage_resources(const config::Config& config,
                                                           std::vector<std::string>& errors) {
  size_t errors_before = errors.size();
  StageResources resources;
  resources.schemas = load_schemas(config.pipeline, errors);
  resources.blocked_senders = load_blocked_senders(config.pipeline.filter, errors);
  resources.spam_keywords = build_spam_keywords(config.pipeline.filter, errors);
  if (errors.size() != errors_before) return nullptr;
  return std::make_shared<const StageResources>(std::move(resources));
}

StageChain::StageChain(const config::PipelineConfig& pipeline, std::shared_ptr<const StageResources> resources)
    : resources_(std::move(resources)) {
  SLUICE_ASSERT(resources_ && resources_->schemas && resources_->blocked_senders && resources_->spam_keywords,
                "stage chain built from incomplete resources");
  auto schema = std::make_unique<SchemaStage>(resources_->schemas);
  auto filter = std::make_unique<FilterStage>(resources_->blocked_senders, resources_->spam_keywords);
  schema_ = schema.get();
  filter_ = filter.get();
  stages_.push_back(std::make_unique<SizeStage>(pipeline.max_message_bytes));
  stages_.push_back(std::make_unique<ParseStage>(static_cast<int>(pipeline.max_json_depth), pipeline.value_framing));
  stages_.push_back(std::move(schema));
  stages_.push_back(std::move(filter));
}

StageChain::~StageChain() = default;

StageChain::Outcome StageChain::run(MessageContext& message, std::vector<std::chrono::nanoseconds>* durations) {
  if (durations != nullptr) durations->clear();
  for (const StagePtr& stage : stages_) {
    auto started = durations != nullptr ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point();
    StageResult result = stage->process(message);
    if (durations != nullptr) durations->push_back(std::chrono::steady_clock::now() - started);
    if (result.verdict != Verdict::Continue) return Outcome{std::move(result), stage->name()};
  }
  return Outcome{};
}

void StageChain::set_resources(std::shared_ptr<const StageResources> resources) {
  SLUICE_ASSERT(resources && resources->schemas && resources->blocked_senders && resources->spam_keywords,
                "stage resources swapped for an incomplete snapshot");
  schema_->set_registry(resources->schemas);
  filter_->set_lists(resources->blocked_senders, resources->spam_keywords);
  resources_ = std::move(resources);
}

}  // namespace sluice::stages
