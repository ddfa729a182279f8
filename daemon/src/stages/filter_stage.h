#pragma once
// Deliberate rejections of well-formed messages (verdict Filter):
//   `blocked_sender`: the sender is on the blocked list: payload.from_email on the email
//     channel (ignoring ASCII case), payload.sender_id on the whatsapp channel (exactly);
//     both after trimming surrounding whitespace;
//   `spam`: a spam keyword occurs, ignoring ASCII case, in payload.body (email) or
//     payload.message_text (whatsapp); on any other channel in either.
// Messages without a payload object pass; the schema stage decides whether that is allowed.
//
// Threading: one instance per worker thread; the lists are shared and immutable, and
// set_lists() swaps them between messages on the worker's own thread.

#include <memory>
#include <string_view>

#include "stages/keyword_matcher.h"
#include "stages/sender_list.h"
#include "stages/stage.h"

namespace sluice::stages {

class FilterStage final : public Stage {
 public:
  FilterStage(std::shared_ptr<const SenderList> blocked_senders, std::shared_ptr<const KeywordMatcher> spam_keywords);

  void set_lists(std::shared_ptr<const SenderList> blocked_senders,
                 std::shared_ptr<const KeywordMatcher> spam_keywords);

  // Stage
  std::string_view name() const override { return "filter"; }
  StageResult process(MessageContext& message) override;

 private:
  std::shared_ptr<const SenderList> blocked_senders_;
  std::shared_ptr<const KeywordMatcher> spam_keywords_;
};

}  // namespace sluice::stages
