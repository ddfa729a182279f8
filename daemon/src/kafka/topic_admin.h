#pragma once
// The two questions sluice asks the cluster about topics before it consumes: which of these
// exist (and with how many partitions), and please create these. The daemon's start-up
// check (topic_check.h) reaches the cluster only through this interface, so its logic is
// tested with a fake; LibrdkafkaTopicAdmin is the real one.
//
// Called from the daemon's main thread during start-up only, before the engine exists.

#include <map>
#include <string>
#include <vector>

namespace sluice::kafka {

struct TopicState {
  enum class Presence {
    Present,   // the cluster has it
    Missing,   // UNKNOWN_TOPIC_OR_PART
    Unusable,  // another error (e.g. not authorized); `detail` says which
  };
  Presence presence = Presence::Missing;
  int partitions = 0;  // when Present; 0 while not known yet (a topic just auto-created)
  std::string detail;  // when Unusable: the broker's error
};

struct DescribeResult {
  bool answered = false;  // false: the cluster could not be asked (`error` says why)
  std::string error;
  std::map<std::string, TopicState> topics;  // one entry per name asked for
};

struct NewTopic {
  std::string name;
  int partitions = -1;          // -1: the broker's default (num.partitions)
  int replication_factor = -1;  // -1: the broker's default (default.replication.factor)
};

struct TopicCreation {
  enum class Result {
    Created,
    AlreadyExists,  // created meanwhile by someone else (another instance starting): fine
    Refused,        // e.g. a policy violation or an invalid replication factor; `detail` says which
  };
  Result result = Result::Refused;
  std::string detail;
};

struct CreateResult {
  bool answered = false;  // false: the request failed as a whole (`error` says why)
  std::string error;
  std::map<std::string, TopicCreation> topics;  // one entry per topic asked for
};

class TopicAdmin {
 public:
  virtual ~TopicAdmin() = default;
  virtual DescribeResult describe(const std::vector<std::string>& names) = 0;
  virtual CreateResult create(const std::vector<NewTopic>& topics) = 0;
};

}  // namespace sluice::kafka
