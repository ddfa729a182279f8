#include "stages/filter_stage.h"

#include <string>
#include <utility>

#include "common/assert.h"
#include "common/text.h"

namespace sluice::stages {

namespace {

enum class Channel { Email, WhatsApp, Other };

Channel channel_of(std::string_view channel) {
  if (channel == "email") return Channel::Email;
  if (channel == "whatsapp") return Channel::WhatsApp;
  return Channel::Other;
}

// Sender ids quoted in a detail are cut short at a UTF-8 character boundary.
std::string excerpt(std::string_view text) {
  constexpr size_t kMaxBytes = 128;
  if (text.size() <= kMaxBytes) return std::string(text);
  size_t end = kMaxBytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return std::string(text.substr(0, end)) + "...";
}

}  // namespace

FilterStage::FilterStage(std::shared_ptr<const SenderList> blocked_senders,
                         std::shared_ptr<const KeywordMatcher> spam_keywords) {
  set_lists(std::move(blocked_senders), std::move(spam_keywords));
}

void FilterStage::set_lists(std::shared_ptr<const SenderList> blocked_senders,
                            std::shared_ptr<const KeywordMatcher> spam_keywords) {
  SLUICE_ASSERT(blocked_senders != nullptr && spam_keywords != nullptr, "filter stage needs both lists");
  blocked_senders_ = std::move(blocked_senders);
  spam_keywords_ = std::move(spam_keywords);
}

StageResult FilterStage::process(MessageContext& message) {
  const json::Value* payload = json::get_object(message.document.root(), "payload");
  if (payload == nullptr) return StageResult::next();
  Channel channel = channel_of(message.channel);

  if (!blocked_senders_->empty()) {
    if (channel == Channel::Email) {
      std::string_view sender = text::trim(json::get_string(*payload, "from_email"));
      if (!sender.empty() && blocked_senders_->contains_ignoring_case(sender)) {
        return StageResult::filter(Reason::BlockedSender, "payload.from_email '" + excerpt(sender) + "' is blocked");
      }
    } else if (channel == Channel::WhatsApp) {
      std::string_view sender = text::trim(json::get_string(*payload, "sender_id"));
      if (!sender.empty() && blocked_senders_->contains(sender)) {
        return StageResult::filter(Reason::BlockedSender, "payload.sender_id '" + excerpt(sender) + "' is blocked");
      }
    }
  }

  if (!spam_keywords_->empty()) {
    auto scan = [&](std::string_view field) -> std::optional<StageResult> {
      auto match = spam_keywords_->find_first(json::get_string(*payload, field));
      if (!match) return std::nullopt;
      return StageResult::filter(Reason::Spam, "spam keyword '" + spam_keywords_->keyword(match->keyword) + "' in payload." +
                                            std::string(field));
    };
    if (channel != Channel::WhatsApp) {
      if (auto result = scan("body")) return std::move(*result);
    }
    if (channel != Channel::Email) {
      if (auto result = scan("message_text")) return std::move(*result);
    }
  }
  return StageResult::next();
}

}  // namespace sluice::stages
