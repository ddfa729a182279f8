#pragma once
// Gets librdkafka's fetchers going again once the consumer's prefetch queue was drained.
//
// librdkafka 2.0.2 leaves a partition out of its fetches while the consumer queue holds
// queued.min.messages records or queued.max.messages.kbytes. Taking records from the queue
// wakes nothing, so the broker thread looks again only when another request for that broker
// comes along, or after its poll timeout of one second. Every consumer that is at times slower
// than its fetches fills the queue (sluice's engine stops taking while its in-flight budget is
// used up; the stages may be behind the fetches), and then, once it had drained the queue,
// waited for up to a second for records the broker already had: at full speed, about half of
// the time. (Later librdkafka versions back off for fetch.queue.backoff.ms instead.)
//
// A wake is one ListOffsets request per leader of the assigned partitions
// (rd_kafka_offsets_for_times groups them by leader): a request for a broker wakes its
// thread, which then decides again which partitions to fetch. It waits for the answer, so it
// runs on a thread of its own. Requests coalesce: one round at a time, at most one more behind
// it however often request() is called meanwhile, and rounds start at least `min_interval`
// apart (a stall of up to a second is what a round saves; a few hundredths of it waiting
// bounds the requests a busy instance sends its brokers to 50 rounds a second).
//
// Threading: request() and rounds() from any thread; the rounds on the waker's thread. Stop:
// the destructor wakes and joins the thread, at most one round's timeout later; it must run
// before the client is destroyed.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

#include <librdkafka/rdkafka.h>

namespace sluice::kafka {

// One round for a consumer: a ListOffsets request to each leader of its assigned partitions,
// waiting at most `timeout`. Any thread.
void wake_fetchers_of(rd_kafka_t* consumer, std::chrono::milliseconds timeout);

class FetchWaker {
 public:
  // `round` wakes the fetchers once, waiting at most `timeout` (a failed round is not
  // repeated: the next request makes another).
  using Round = std::function<void(std::chrono::milliseconds timeout)>;

  explicit FetchWaker(Round round, std::chrono::milliseconds timeout = std::chrono::milliseconds(1000),
                      std::chrono::milliseconds min_interval = std::chrono::milliseconds(20));
  ~FetchWaker();
  FetchWaker(const FetchWaker&) = delete;
  FetchWaker& operator=(const FetchWaker&) = delete;

  // Asks for a round; returns at once.
  void request();
  // Rounds run so far.
  uint64_t rounds() const;

 private:
  void loop();

  const Round round_;
  const std::chrono::milliseconds timeout_;
  const std::chrono::milliseconds min_interval_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool requested_ = false;  // guarded by mutex_
  bool stopping_ = false;   // guarded by mutex_
  uint64_t rounds_ = 0;     // guarded by mutex_
  std::thread thread_;      // last: starts once everything above is initialised
};

}  // namespace sluice::kafka
