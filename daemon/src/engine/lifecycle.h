#pragma once
// What the engine tells the process around it (the app: systemd notifications, health for
// the admin server) and asks of it (a reloaded set of stage resources). Every call is made on
// the engine thread.

#include <memory>
#include <string>

#include "common/status_snapshot.h"
#include "stages/stage_chain.h"

namespace sluice::engine {

class LifecycleListener {
 public:
  virtual ~LifecycleListener() = default;
  // The engine is consuming (clients created, subscribed); before any group join.
  virtual void on_started() {}
  // Every event-loop iteration (at least every 200 ms): proof the loop makes progress.
  virtual void on_loop() {}
  // Roughly once a second: a good moment for slow checks. May return new stage resources
  // (a reload), which the engine swaps in between two records.
  virtual std::shared_ptr<const stages::StageResources> on_tick() { return nullptr; }
  // The consumer joined its group (the first assignment, even an empty one, arrived).
  virtual void on_joined() {}
  // Stalled partitions (records in flight, no progress for stall_timeout) changed.
  virtual void on_stalled(int64_t /*stalled_partitions*/) {}
  // Draining for shutdown has begun.
  virtual void on_stopping() {}
  // Group membership or broker reachability changed (Connectivity says what each means); the
  // details say why not (empty when it holds). Also called once with the first verdict.
  virtual void on_connectivity(bool /*in_group*/, const std::string& /*group_detail*/, bool /*brokers_reached*/,
                               const std::string& /*broker_detail*/) {}
  // A fresh snapshot for /status: about once a second, and after each assignment change.
  // The listener copies what it keeps; the engine reuses its snapshot.
  virtual void on_status(const StatusSnapshot& /*snapshot*/) {}
};

}  // namespace sluice::engine
