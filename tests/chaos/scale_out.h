#pragma once
// The scale-out run (sluice-chaos --scale-out): proves that a group of sluice instances
// sharing Redis dedup loses nothing, keeps every key's order and delivers nothing twice
// while it is scaled and restarted under steady input.
//
// It starts the dev broker, Redis, the flapping HTTP endpoint and --instances sluice
// instances (default 3) in one consumer group (librdkafka's default range assignment), with
// the chaos run's topic and HTTP routes and `retry.ordering` from --retry-ordering. The
// realistic mix is re-keyed onto 50 keys (the producer partitions by key), so every key has
// a long sequence of records, and produced steadily for the whole run, while the sink
// flaps, the sink broker now and then refuses a produce request, and an operator:
//   1. restarts every instance in turn: SIGTERM, wait for the exit (status 0), start its
//      replacement and wait until it is ready (/readyz 200) before the next;
//   2. kills one instance with SIGKILL (--kills times, default 1) and restarts it.
// Then it lets everything recover, waits until the group committed every inbound and
// retry-tier record, stops every instance with SIGTERM and checks: every input record
// accounted for (chaos/accounting.h), key order at both sinks and duplicates only across a
// kill -9 (chaos/order_check.h). Key order fails the run only with retry.ordering key.
//
// Everything runs on the main thread, as one loop; child processes are started only from it.

#include <cstdint>

#include "chaos/options.h"
#include "chaos/report.h"

namespace sluice::chaos {

RunReport run_scale_out(const Options& options, uint64_t seed);

}  // namespace sluice::chaos
