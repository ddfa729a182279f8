#pragma once
// The configuration sluice runs with in the bench: config/sluice.yaml as shipped, with the
// broker, the dedup backend and a free admin port filled in. Everything else a scenario
// changes is named in the scenario (exactly-once, HTTP routes) or is a safety net that costs
// nothing (auto.offset.reset: error turns an evicted record into a failed run).

#include <string>

namespace sluice::bench {

struct SluiceSettings {
  std::string dedup = "sqlite";  // the shipped default
  std::string redis_url;         // for dedup "redis"
  bool exactly_once = false;     // kafka.delivery: exactly_once
  std::string http_url;          // non-empty: both routes go to this endpoint instead of topics
  int pipeline_depth = 1;        // of those HTTP routes
  std::string http_batch;        // their `batch:` (YAML flow); empty: none
  bool key_order = false;        // retry.ordering: key
  // The latency runs only: the dev broker holds an empty fetch for fetch.wait.max.ms even
  // when records arrive meanwhile (a real broker answers once fetch.min.bytes are there).
  int fetch_wait_ms = -1;
};

// The YAML text; throws std::runtime_error when the shipped file no longer has a line this
// replaces, so a change to it cannot silently fall out of the bench. Brokers and the state
// directory come from the environment the shipped file reads: KAFKA_BROKERS and
// STATE_DIRECTORY.
std::string shipped_config(const SluiceSettings& settings);

// The consumer group of the shipped config.
inline constexpr char kShippedGroup[] = "sluice";

}  // namespace sluice::bench
