#pragma once
// Runs the CPU stages (a StageRunner, in the engine) on a thread of their own
// (pipeline.stage_thread), so that parsing, validation, filtering and fingerprinting use the
// second CPU while the engine thread does the Kafka, dedup and sink work.
//
// Ownership: a record handed over with submit() belongs to the stage thread until the engine
// thread takes it back with take_finished(); the engine touches no submitted record in
// between (not even when its partition is revoked: it checks that when the record returns).
// Records come back in the order they were submitted, so per-partition order is kept.
//
// Threading: submit(), run_here_if_idle(), take_finished(), set_resources() and the
// destructor on the engine thread; has_finished() from anywhere. The run function is called
// by one thread at a time: the stage thread, or the engine thread while the stage thread is
// idle (the mutex hands its state over either way). After publishing finished records the stage thread
// writes one byte to `wake_fd` (the engine's wake pipe), so the engine's poll() returns.
//
// Stop: the destructor lets the thread finish the records at hand, then joins it. Records
// still queued are left as they are; they stay owned by the engine's record pool.

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/in_flight_record.h"
#include "stages/stage_chain.h"

namespace sluice::engine {

class StageThread {
 public:
  // What the thread does with each record, and with new stage resources (a reload); both are
  // called on the new thread only, and whatever they use must outlive this object.
  using RunFn = std::function<void(InFlightRecord&)>;
  using ResourcesFn = std::function<void(std::shared_ptr<const stages::StageResources>)>;

  StageThread(RunFn run, ResourcesFn apply_resources, int wake_fd);
  ~StageThread();
  StageThread(const StageThread&) = delete;
  StageThread& operator=(const StageThread&) = delete;

  // Hands `records` to the stage thread and leaves the vector empty.
  void submit(std::vector<InFlightRecord*>& records);
  // Runs `records` on the calling thread instead, when the stage thread is idle with nothing
  // queued, nothing finished and no resources to apply (so the order is kept and the records
  // see the same resources); false, doing nothing, otherwise. For small batches, where two
  // thread wake-ups cost more than the stages and add to the latency.
  bool run_here_if_idle(const std::vector<InFlightRecord*>& records);
  // Appends the records decided since the last call to `out`, in submission order.
  void take_finished(std::vector<InFlightRecord*>& out);
  bool has_finished() const { return has_finished_.load(std::memory_order_acquire); }
  // Applied before the thread starts on the next records.
  void set_resources(std::shared_ptr<const stages::StageResources> resources);

 private:
  void loop();
  static void prefetch_ahead(const std::vector<InFlightRecord*>& batch, size_t i);

  const RunFn run_;
  const ResourcesFn apply_resources_;
  const int wake_fd_;
  std::mutex mutex_;
  std::condition_variable work_ready_;
  // Guarded by mutex_:
  std::vector<InFlightRecord*> queued_;    // submitted, not started
  std::vector<InFlightRecord*> finished_;  // decided, not yet taken back
  std::shared_ptr<const stages::StageResources> new_resources_;
  bool running_ = false;  // a batch is being run, by the stage thread or by run_here_if_idle()
  bool stopping_ = false;

  std::atomic<bool> has_finished_{false};
  std::thread thread_;  // last: starts once everything above is initialised
};

}  // namespace sluice::engine
