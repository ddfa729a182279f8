#include "kafka/librdkafka_topic_admin.h"

#include <algorithm>
#include <cstdint>

namespace sluice::kafka {
namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(left, 1, INT32_MAX));
}

std::string seconds_text(std::chrono::milliseconds timeout) {
  return std::to_string(timeout.count() / 1000) + "." + std::to_string(timeout.count() % 1000 / 100) + " s";
}

TopicState state_of(const rd_kafka_metadata_topic_t& topic) {
  TopicState state;
  switch (topic.err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
    // A topic the broker has just created (auto-creation) has no leaders yet.
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
      state.presence = TopicState::Presence::Present;
      state.partitions = topic.partition_cnt;
      break;
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
      state.presence = TopicState::Presence::Missing;
      break;
    default:
      state.presence = TopicState::Presence::Unusable;
      state.detail = error_name(topic.err);
      break;
  }
  return state;
}

}  // namespace

std::unique_ptr<LibrdkafkaTopicAdmin> LibrdkafkaTopicAdmin::create(Properties properties, bool allow_auto_create,
                                                                   std::chrono::milliseconds timeout,
                                                                   std::vector<std::string>& errors) {
  properties["allow.auto.create.topics"] = allow_auto_create ? "true" : "false";
  ConfPtr conf = make_conf(properties, errors);
  if (!errors.empty()) return nullptr;
  std::unique_ptr<LibrdkafkaTopicAdmin> admin(new LibrdkafkaTopicAdmin(timeout));
  std::string error;
  // A producer-type client: it never joins a group, and its metadata requests carry
  // allow.auto.create.topics as set above.
  admin->handle_ = make_client(RD_KAFKA_PRODUCER, std::move(conf), &admin->context_, error);
  if (!admin->handle_) {
    errors.push_back("cannot create the topic check's Kafka client: " + error);
    return nullptr;
  }
  return admin;
}

DescribeResult LibrdkafkaTopicAdmin::describe(const std::vector<std::string>& names) {
  const Clock::time_point deadline = Clock::now() + timeout_;
  DescribeResult result;
  // One request per topic handle: librdkafka's request for all the topics it knows sends
  // allow.auto.create.topics = true whenever all of them are in its cache, whatever is set.
  for (const std::string& name : names) {
    TopicPtr topic(rd_kafka_topic_new(handle_.get(), name.c_str(), nullptr));
    const rd_kafka_metadata_t* raw = nullptr;
    rd_kafka_resp_err_t err = rd_kafka_metadata(handle_.get(), 0, topic.get(), &raw, remaining_ms(deadline));
    MetadataPtr metadata(raw);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      result.error = "no metadata from the brokers within " + seconds_text(timeout_) + " (" + error_name(err) + ")";
      return result;
    }
    TopicState state;  // Missing unless the answer names it
    for (int i = 0; i < metadata->topic_cnt; ++i) {
      if (name == metadata->topics[i].topic) state = state_of(metadata->topics[i]);
    }
    result.topics[name] = state;
  }
  result.answered = true;
  return result;
}

CreateResult LibrdkafkaTopicAdmin::create(const std::vector<NewTopic>& topics) {
  CreateResult result;
  char error_text[512];
  std::vector<NewTopicPtr> owned;
  std::vector<rd_kafka_NewTopic_t*> requested;
  for (const NewTopic& spec : topics) {
    NewTopicPtr topic(rd_kafka_NewTopic_new(spec.name.c_str(), spec.partitions, spec.replication_factor, error_text,
                                            sizeof error_text));
    if (!topic) {
      result.topics[spec.name] = {TopicCreation::Result::Refused, error_text};
      continue;
    }
    requested.push_back(topic.get());
    owned.push_back(std::move(topic));
  }
  result.answered = true;
  if (requested.empty()) return result;

  const int timeout_ms = static_cast<int>(timeout_.count());
  AdminOptionsPtr options(rd_kafka_AdminOptions_new(handle_.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS));
  // The request's own timeout, and how long the controller may take to create the topics
  // before it answers (so the topics exist once the answer says so).
  rd_kafka_AdminOptions_set_request_timeout(options.get(), timeout_ms, error_text, sizeof error_text);
  rd_kafka_AdminOptions_set_operation_timeout(options.get(), timeout_ms, error_text, sizeof error_text);
  QueuePtr queue(rd_kafka_queue_new(handle_.get()));
  rd_kafka_CreateTopics(handle_.get(), requested.data(), requested.size(), options.get(), queue.get());
  // librdkafka answers by the request timeout at the latest; the margin is for its own timer.
  EventPtr event(rd_kafka_queue_poll(queue.get(), timeout_ms + 1000));
  if (!event) {
    result.answered = false;
    result.error = "no answer to CreateTopics within " + seconds_text(timeout_);
    return result;
  }
  if (rd_kafka_event_error(event.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    result.answered = false;
    result.error = error_name(rd_kafka_event_error(event.get())) + ": " + rd_kafka_event_error_string(event.get());
    return result;
  }
  size_t count = 0;
  const rd_kafka_topic_result_t** answers =
      rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event.get()), &count);
  for (size_t i = 0; i < count; ++i) {
    rd_kafka_resp_err_t err = rd_kafka_topic_result_error(answers[i]);
    TopicCreation creation;
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      creation.result = TopicCreation::Result::Created;
    } else if (err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
      creation.result = TopicCreation::Result::AlreadyExists;
    } else {
      const char* message = rd_kafka_topic_result_error_string(answers[i]);
      creation.detail = error_name(err) + (message != nullptr && *message != '\0' ? ": " + std::string(message) : "");
    }
    result.topics[rd_kafka_topic_result_name(answers[i])] = std::move(creation);
  }
  return result;
}

}  // namespace sluice::kafka
