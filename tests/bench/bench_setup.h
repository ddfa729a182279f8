#pragma once
// What every end-to-end measurement of sluice-bench sets up: a private dev broker, the corpus
// and its topic layout, the scenario's description, and the process under test (sluice or the
// bare copy) with its log.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bench/bare_copy.h"
#include "devtools/message_mix.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace sluice::bench {

using Clock = std::chrono::steady_clock;

inline const std::vector<std::string> kInboundTopics = {"inbound.email", "inbound.whatsapp"};
inline const std::vector<std::string> kSluiceOutputs = {"clean.email", "clean.whatsapp", "dlq"};
// The bare copy writes inbound.X to bare.X, partition for partition.
inline constexpr char kBarePrefix[] = "bare.";
inline constexpr char kBareGroup[] = "bare";

double seconds_since(Clock::time_point start);

// A private sluice-devbroker, started like tests/support's DevBroker but with its pid at hand.
class Broker {
 public:
  explicit Broker(const std::map<std::string, int>& topics);
  ~Broker();

  const std::string& bootstrap() const { return bootstrap_; }
  pid_t pid() const { return process_->pid(); }

 private:
  test::TempDir dir_;
  std::unique_ptr<test::ChildProcess> process_;
  std::string bootstrap_;
};

// The inbound topics of a layout.
std::map<std::string, int> inbound_of(const std::map<std::string, int>& layout);
// Error text fit for one table cell.
std::string one_line(std::string text);

struct Corpus {
  std::vector<devtools::MixRecord> mix;
  int64_t bytes = 0;
  int64_t forwarded = 0;  // distinct content groups: what reaches a route
  int64_t dead_letters = 0;
  std::map<std::string, int64_t> kinds;
};

Corpus make_corpus(int count, const std::string& id_prefix, uint64_t seed);
void produce_corpus(const std::string& bootstrap, const std::vector<devtools::MixRecord>& mix);

enum class Subject { Bare, SluiceTopic, SluiceHttp };

struct ScenarioSpec {
  std::string name;
  Subject subject = Subject::SluiceTopic;
  std::string dedup = "memory";
  std::string what;
  int pipeline_depth = 1;  // HTTP routes
  std::string http_batch;  // HTTP routes: their `batch:` (YAML); empty: one request per record
  bool exactly_once = false;  // kafka.delivery: exactly_once
  bool key_order = false;     // retry.ordering: key
  BareOptions bare;  // Subject::Bare: the variant (bootstrap and topics are filled in per run)
};

// Every topic of a throughput run, with enough partitions that the broker evicts nothing.
std::map<std::string, int> topic_layout(const Corpus& corpus);
// One partition per topic, for the latency runs (see the definition for why).
std::map<std::string, int> latency_layout();

// A running sluice or bare copy with its log, started against `broker`.
class Runner {
 public:
  // fetch_wait_ms < 0: librdkafka's default (throughput runs); the latency runs set it.
  Runner(const ScenarioSpec& spec, const std::string& bootstrap, int fetch_wait_ms, const std::string& redis_url,
         const std::string& http_url);
  ~Runner();

  pid_t pid() const { return process_->pid(); }
  bool running() { return process_->running(); }
  std::string log_tail() const;
  // Waits for the first "partitions assigned" line; false when the process died or timed out.
  bool wait_joined(std::chrono::milliseconds timeout);
  // The port sluice's admin server reported in its log; nullopt for the bare copy or when the
  // line is missing.
  std::optional<uint16_t> admin_port() const;
  // SIGTERM and the exit status (nullopt when it did not stop in time).
  std::optional<int> stop();

 private:
  test::TempDir dir_;
  std::string log_path_;
  std::unique_ptr<test::ChildProcess> process_;
};

}  // namespace sluice::bench
