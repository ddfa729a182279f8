#pragma once
// TopicAdmin over a short-lived librdkafka client: Metadata requests for describe(), the admin
// API's CreateTopics for create(). Every call is bounded by the timeout given at creation
// (counted from the start of the call); a cluster that cannot be reached within it is an
// answer with `answered == false`, never a wait without end.
//
// `allow_auto_create` is sent with each Metadata request (allow.auto.create.topics): true asks
// as sluice's producer does, so a broker with auto.create.topics.enable creates a missing
// topic then, as it would at the first write; false only looks.
//
// Main thread only, during start-up; destroyed (with its client) before the engine's clients
// are created.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "kafka/client.h"
#include "kafka/topic_admin.h"

namespace sluice::kafka {

class LibrdkafkaTopicAdmin final : public TopicAdmin {
 public:
  static std::unique_ptr<LibrdkafkaTopicAdmin> create(Properties properties, bool allow_auto_create,
                                                      std::chrono::milliseconds timeout,
                                                      std::vector<std::string>& errors);

  DescribeResult describe(const std::vector<std::string>& names) override;
  CreateResult create(const std::vector<NewTopic>& topics) override;

 private:
  explicit LibrdkafkaTopicAdmin(std::chrono::milliseconds timeout) : timeout_(timeout) {}

  std::chrono::milliseconds timeout_;
  ClientContext context_;  // must outlive handle_ (declared before it)
  HandlePtr handle_;
};

}  // namespace sluice::kafka
