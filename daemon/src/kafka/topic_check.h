#pragma once
// The start-up topic check: before sluice consumes, every topic it reads (inbound, retry
// tiers) and writes (topic routes, tiers, DLQ, rejected) must exist, or, with
// kafka.create_topics, is created. Without it a missing output topic showed only at the first
// record for it, as a breaker pausing its partitions without end.
//
// A pure function over TopicAdmin (the fake in tests/unit/kafka/topic_check_test.cc, the
// librdkafka one in the daemon). Main thread, once, before the engine's clients exist.

#include <string>
#include <vector>

#include "config/config.h"
#include "kafka/topic_admin.h"

namespace sluice::kafka {

// The topics a config reads or writes, each once: inbound, then tiers, then the rest in the
// order of the config file.
std::vector<std::string> needed_topics(const config::Config& config);

struct TopicCheckResult {
  enum class Status {
    Ready,
    ConfigError,  // topics missing (and not created), refused, unusable or unequally partitioned: exit 2
    // The brokers did not answer within kafka.topic_check_timeout, or refused CreateTopics as a
    // whole (e.g. a broker without the admin API): exit 1, as for other environment failures.
    BrokerFailure,
  };
  Status status = Status::Ready;
  std::vector<std::string> errors;   // every problem found, each naming its topic(s)
  std::vector<std::string> created;  // topics this check created
};

TopicCheckResult check_topics(const config::Config& config, TopicAdmin& admin);

}  // namespace sluice::kafka
