#pragma once
// A private sluice-devbroker for one test: random loopback ports, its own topics, fault
// injection through its control FIFO. Stopped (SIGTERM, then SIGKILL) on destruction.

#include <memory>
#include <string>
#include <vector>

#include "support/process.h"
#include "support/temp_dir.h"

namespace sluice::test {

struct TopicSpec {
  std::string name;
  int partitions;
};

class DevBroker {
 public:
  // `missing_topics` answer UNKNOWN_TOPIC_OR_PART to every Metadata request (--missing-topic).
  explicit DevBroker(const std::vector<TopicSpec>& topics, int brokers = 1,
                     const std::vector<std::string>& missing_topics = {});
  ~DevBroker();

  const std::string& bootstrap() const { return bootstrap_; }
  // Sends one control command (e.g. "down -1") and waits for its OK; throws on ERR/timeout.
  void control(const std::string& command);

 private:
  TempDir dir_;
  std::unique_ptr<ChildProcess> process_;
  std::string bootstrap_;
  std::string control_path_;
  size_t replies_seen_ = 0;
};

}  // namespace sluice::test
