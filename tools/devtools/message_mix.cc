#include "devtools/message_mix.h"

#include <random>

namespace sluice::devtools {
namespace {

std::string timestamp(int n) {
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "2026-11-26T10:%02d:%02d.%03dZ", (n / 60) % 60, n % 60, n % 1000);
  return buffer;
}

}  // namespace

std::string email_event(const std::string& from, const std::string& body, const std::string& correlation_id) {
  return R"({"channel":"email","message_type":"email_received","correlation_id":")" + correlation_id +
         R"(","timestamp":")" + timestamp(static_cast<int>(correlation_id.size())) +
         R"(","payload":{"from_email":")" + from + R"(","to_email":"support@example.com","subject":"Order question",)" +
         R"("body":")" + body + R"(","timestamp":"2026-11-26T09:59:00Z"}})";
}

std::string whatsapp_event(const std::string& sender, const std::string& text, const std::string& correlation_id) {
  return R"({"channel":"whatsapp","message_type":"whatsapp_received","correlation_id":")" + correlation_id +
         R"(","timestamp":"2026-11-26T10:00:00Z","payload":{"sender_id":")" + sender +
         R"(","recipient_id":"+15550001000","message_text":")" + text + R"(","timestamp":"2026-11-26T09:58:00Z"}})";
}

std::vector<MixRecord> make_mix(const MixOptions& options) {
  std::mt19937_64 random(options.seed);
  std::vector<MixRecord> mix;
  std::vector<MixRecord> originals;  // valid records a later duplicate may copy
  auto add = [&](std::string topic, std::string value, Expected expected, std::string reason,
                 std::string downstream, std::string group) {
    MixRecord entry;
    entry.record.topic = std::move(topic);
    entry.record.key = options.id_prefix + std::to_string(mix.size());
    entry.record.value = std::move(value);
    entry.record.headers = {{"test-id", *entry.record.key}, {"trace", "t-" + std::to_string(mix.size())}};
    entry.expected = expected;
    entry.reason = std::move(reason);
    entry.downstream_topic = std::move(downstream);
    entry.content_group = std::move(group);
    mix.push_back(entry);
    return mix.back();
  };
  const char* bodies[] = {"Where is my order #%d?", "Please update my address (ticket %d)",
                          "Caf\\u00e9 order %d arriv\\u00e9e \\u2014 merci", "Return request %d \\ud83d\\udce6",
                          "Invoice %d attached"};
  for (int i = 0; i < options.count; ++i) {
    int n = static_cast<int>(mix.size());
    std::string correlation = "c-" + std::to_string(n) + "-" + std::to_string(random() % 100000);
    int kind = static_cast<int>(random() % 100);
    char body[200];
    std::snprintf(body, sizeof body, bodies[random() % std::size(bodies)], n);
    if (kind < 35) {
      std::string group = "email-" + std::to_string(n);
      originals.push_back(add(options.email_topic, email_event("customer" + std::to_string(n) + "@example.com", body, correlation),
                              Expected::Forwarded, "", "clean.email", group));
    } else if (kind < 60) {
      std::string group = "wa-" + std::to_string(n);
      originals.push_back(add(options.whatsapp_topic,
                              whatsapp_event("+1555" + std::to_string(2000000 + n), body, correlation),
                              Expected::Forwarded, "", "clean.whatsapp", group));
    } else if (kind < 70 && !originals.empty()) {
      // Same content as an earlier valid record: only correlation_id and timestamps differ,
      // and those are not part of the fingerprint.
      const MixRecord& original = originals[random() % originals.size()];
      std::string value = *original.record.value;
      size_t at = value.find("\"correlation_id\":\"");
      size_t end = value.find('"', at + 18);
      value.replace(at + 18, end - at - 18, correlation);
      add(original.record.topic, value, Expected::Duplicate, "", original.downstream_topic, original.content_group);
    } else if (kind < 75) {
      add(options.email_topic, email_event("winner" + std::to_string(n) + "@example.com",
                                           "Congratulations you WON! Click here for FREE MONEY", correlation),
          Expected::Filtered, "spam", "", "");
    } else if (kind < 79) {
      add(options.whatsapp_topic, whatsapp_event("+15550000666", "hello " + std::to_string(n), correlation),
          Expected::Filtered, "blocked_sender", "", "");
    } else if (kind < 82) {
      add(options.email_topic, email_event("SPAMMER@example.com", "hi " + std::to_string(n), correlation),
          Expected::Filtered, "blocked_sender", "", "");
    } else if (kind < 88) {
      const char* broken[] = {"{\"channel\":\"email\",", "not json at all", "{\"a\":1}}", "[1,2,3]", "",
                              "\xef\xbb\xbf{\"channel\":\"email\"}", "{\"x\":\"\xff\xfe\"}", "{\"n\":1}\x00"};
      size_t which = random() % std::size(broken);
      std::string value = which == std::size(broken) - 1 ? std::string("{\"n\":1}\0", 8) : std::string(broken[which]);
      add(options.email_topic, value + (which == 0 ? std::to_string(n) : ""), Expected::DeadLetter, "invalid_json",
          "", "");
    } else if (kind < 95) {
      add(options.email_topic, email_event("not-an-email-" + std::to_string(n), "hello", correlation),
          Expected::DeadLetter, "schema_violation", "", "");
    } else {
      add(options.whatsapp_topic,
          R"({"channel":"sms","message_type":"sms_received","payload":{"n":)" + std::to_string(n) + "}}",
          Expected::DeadLetter, "unknown_message_type", "", "");
    }
  }
  if (options.include_oversized) {
    std::string big = email_event("big@example.com", std::string(2 * 1024 * 1024, 'x'), "big");
    add(options.email_topic, big, Expected::DeadLetter, "too_large", "", "");
  }
  return mix;
}

}  // namespace sluice::devtools
