#pragma once
// What the engine tells the process around it (the app: systemd notifications, health for
// the admin server) and asks of it (a reloaded set of stage resources). Every call is made on
// the engine thread.

#include <memory>

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
};

}  // namespace sluice::engine
