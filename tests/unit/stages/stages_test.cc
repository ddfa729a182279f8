#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include "stages/filter_stage.h"
#include "stages/parse_stage.h"
#include "stages/size_stage.h"

using namespace sluice;
using namespace sluice::stages;

namespace {

const std::vector<std::string> kDefaultKeywords = {"free money", "click here", "urgent action required",
                                                   "congratulations you won", "act now"};

// Parses `value` and runs the filter stage on it.
class FilterHarness {
 public:
  FilterHarness(std::vector<std::string> senders, std::vector<std::string> keywords)
      : filter_(std::make_shared<const SenderList>(senders), std::make_shared<const KeywordMatcher>(keywords)) {}

  StageResult run(const std::string& value) {
    raw_ = value;
    message_.reset(raw_, false);
    REQUIRE(parse_.process(message_).verdict == Verdict::Continue);
    return filter_.process(message_);
  }

  FilterStage& stage() { return filter_; }

 private:
  std::string raw_;
  MessageContext message_;
  ParseStage parse_{64};
  FilterStage filter_;
};

std::string email(const std::string& from, const std::string& body, const std::string& subject = "hello") {
  return R"({"channel":"email","message_type":"email_received","payload":{"from_email":")" + from +
         R"(","to_email":"b@example.com","subject":")" + subject + R"(","body":")" + body +
         R"(","timestamp":"2024-09-18T14:32:05Z"}})";
}

std::string whatsapp(const std::string& sender, const std::string& text) {
  return R"({"channel":"whatsapp","message_type":"whatsapp_received","payload":{"sender_id":")" + sender +
         R"(","recipient_id":"15557654321","message_text":")" + text + R"(","timestamp":"2024-09-18T14:32:05Z"}})";
}

}  // namespace

TEST_CASE("size stage dead-letters values over the limit, measured on the raw bytes", "[stages][size]") {
  SizeStage stage(10);
  CHECK(stage.name() == "size");
  MessageContext message;
  message.reset("0123456789", false);
  CHECK(stage.process(message).verdict == Verdict::Continue);
  message.reset("0123456789A", false);
  StageResult result = stage.process(message);
  CHECK(result.verdict == Verdict::DeadLetter);
  CHECK(result.reason == "too_large");
  CHECK(result.detail == "value is 11 bytes, more than max_message_bytes 10");
  // Whitespace counts: the size is what arrived, not a re-serialisation.
  message.reset("{ \"a\" : 1 }", false);
  CHECK(stage.process(message).reason == "too_large");
  message.reset({}, true);
  CHECK(stage.process(message).verdict == Verdict::Continue);  // a tombstone is the parse stage's business
}

TEST_CASE("parse stage fills the document, channel and message type", "[stages][parse]") {
  ParseStage stage(64);
  CHECK(stage.name() == "parse");
  MessageContext message;
  std::string value = R"({"channel":"email","message_type":"email_received","payload":{}})";
  message.reset(value, false);
  REQUIRE(stage.process(message).verdict == Verdict::Continue);
  CHECK(message.channel == "email");
  CHECK(message.message_type == "email_received");
  CHECK(message.document.root().HasMember("payload"));

  std::string untyped = R"({"channel":5})";
  message.reset(untyped, false);
  REQUIRE(stage.process(message).verdict == Verdict::Continue);
  CHECK(message.channel.empty());
  CHECK(message.message_type.empty());
}

TEST_CASE("parse stage dead-letters tombstones and invalid JSON with the reason", "[stages][parse]") {
  ParseStage stage(3);
  MessageContext message;
  message.reset({}, true);
  StageResult tombstone = stage.process(message);
  CHECK(tombstone.verdict == Verdict::DeadLetter);
  CHECK(tombstone.reason == "invalid_json");
  CHECK(tombstone.detail == "null value (tombstone)");

  message.reset("", false);
  CHECK(stage.process(message).detail == "empty value");

  message.reset("{\"a\":", false);
  StageResult truncated = stage.process(message);
  CHECK(truncated.reason == "invalid_json");
  CHECK_FALSE(truncated.detail.empty());

  message.reset("[1,2]", false);
  CHECK(stage.process(message).detail == "value is not a JSON object");

  message.reset(R"({"a":{"b":{"c":{}}}})", false);
  CHECK(stage.process(message).detail == "nesting deeper than 3 levels");

  // A failed parse leaves no view into the previous message's document.
  std::string good = R"({"channel":"email","message_type":"email_received"})";
  message.reset(good, false);
  REQUIRE(stage.process(message).verdict == Verdict::Continue);
  message.reset("not json", false);
  stage.process(message);
  CHECK(message.channel.empty());
  CHECK(message.message_type.empty());
}

TEST_CASE("filter blocks email senders ignoring case and whitespace", "[stages][filter]") {
  FilterHarness harness({"Spammer@Example.com", "15550000000"}, kDefaultKeywords);
  CHECK(harness.stage().name() == "filter");
  StageResult blocked = harness.run(email("spammer@EXAMPLE.com", "hi"));
  CHECK(blocked.verdict == Verdict::Filter);
  CHECK(blocked.reason == "blocked_sender");
  CHECK(blocked.detail == "payload.from_email 'spammer@EXAMPLE.com' is blocked");
  CHECK(harness.run(email(" spammer@example.com ", "hi")).reason == "blocked_sender");
  CHECK(harness.run(email("friend@example.com", "hi")).verdict == Verdict::Continue);
  // One list serves both channels; only the email channel ignores case.
  CHECK(harness.run(whatsapp("Spammer@Example.com", "hi")).reason == "blocked_sender");
  CHECK(harness.run(whatsapp("spammer@example.com", "hi")).verdict == Verdict::Continue);
}

TEST_CASE("filter blocks WhatsApp senders exactly after trimming", "[stages][filter]") {
  FilterHarness harness({"15550000000"}, kDefaultKeywords);
  StageResult blocked = harness.run(whatsapp("15550000000", "hi"));
  CHECK(blocked.verdict == Verdict::Filter);
  CHECK(blocked.reason == "blocked_sender");
  CHECK(blocked.detail == "payload.sender_id '15550000000' is blocked");
  CHECK(harness.run(whatsapp("  15550000000\\t", "hi")).reason == "blocked_sender");
  CHECK(harness.run(whatsapp("155500000001", "hi")).verdict == Verdict::Continue);
}

TEST_CASE("filter rejects spam keywords in the body or message text", "[stages][filter]") {
  FilterHarness harness({}, kDefaultKeywords);
  StageResult spam = harness.run(email("a@example.com", "Click HERE to win"));
  CHECK(spam.verdict == Verdict::Filter);
  CHECK(spam.reason == "spam");
  CHECK(spam.detail == "spam keyword 'click here' in payload.body");
  StageResult text = harness.run(whatsapp("1555", "URGENT action required!"));
  CHECK(text.reason == "spam");
  CHECK(text.detail == "spam keyword 'urgent action required' in payload.message_text");
  // Only the body is scanned for email.
  CHECK(harness.run(email("a@example.com", "see attached", "act now")).verdict == Verdict::Continue);
  CHECK(harness.run(email("a@example.com", "Please find attached the Q3 report.")).verdict == Verdict::Continue);
}

TEST_CASE("a blocked sender wins over spam, and empty lists let everything through", "[stages][filter]") {
  FilterHarness harness({"spammer@example.com"}, kDefaultKeywords);
  CHECK(harness.run(email("spammer@example.com", "free money")).reason == "blocked_sender");

  FilterHarness open({}, {});
  CHECK(open.run(email("spammer@example.com", "free money")).verdict == Verdict::Continue);
  CHECK(open.run(R"({"channel":"email"})").verdict == Verdict::Continue);  // no payload
}

TEST_CASE("filter on another channel scans both text fields and blocks no sender", "[stages][filter]") {
  FilterHarness harness({"x@example.com"}, kDefaultKeywords);
  CHECK(harness.run(R"({"channel":"sms","payload":{"from_email":"x@example.com","body":"hi"}})").verdict ==
        Verdict::Continue);
  CHECK(harness.run(R"({"channel":"sms","payload":{"message_text":"free money"}})").reason == "spam");
  CHECK(harness.run(R"({"channel":"sms","payload":{"body":"act now"}})").reason == "spam");
}

TEST_CASE("filter lists can be swapped between messages", "[stages][filter]") {
  FilterHarness harness({}, {});
  CHECK(harness.run(email("a@example.com", "free money")).verdict == Verdict::Continue);
  harness.stage().set_lists(std::make_shared<const SenderList>(std::vector<std::string>{"a@example.com"}),
                            std::make_shared<const KeywordMatcher>(kDefaultKeywords));
  CHECK(harness.run(email("a@example.com", "free money")).reason == "blocked_sender");
  CHECK(harness.run(email("b@example.com", "free money")).reason == "spam");
}
