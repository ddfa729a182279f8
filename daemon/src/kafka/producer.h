#pragma once
// The one producer of a sluice instance: downstream records, retry-tier records, rejected
// records and DLQ records all go through it (so a later transactional mode can put them in
// one transaction). Asynchronous: produce() only enqueues; the outcome arrives as a delivery
// report, dispatched to the DeliveryHandler from poll() on the engine thread.
//
// Stop: flush(deadline) waits for outstanding deliveries; destruction without flush drops
// what librdkafka still holds (their input offsets were never committed, so nothing is lost).

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kafka/client.h"

namespace sluice::kafka {

// One produced record's final delivery status. `opaque` is what was passed to produce().
using DeliveryHandler = std::function<void(void* opaque, rd_kafka_resp_err_t error, const rd_kafka_message_t& message)>;

struct OutboundRecord {
  std::string_view topic;
  const void* key = nullptr;  // nullptr: the record has no key (distinct from an empty key)
  size_t key_size = 0;
  std::string_view value;
  bool null_value = false;             // produce a tombstone instead of `value`
  HeadersPtr headers;                  // taken over by librdkafka on success
  void* opaque = nullptr;
};

class Producer {
 public:
  static std::unique_ptr<Producer> create(const Properties& properties, DeliveryHandler on_delivery,
                                          ClientErrorHandler on_error, std::vector<std::string>& errors);
  ~Producer();

  // Enqueues a copy of the record. On error nothing was enqueued (e.g. _QUEUE_FULL,
  // MSG_SIZE_TOO_LARGE) and `record.headers` is still owned by the caller. From one thread
  // at a time (the engine thread): it keeps the topic handles it has looked up.
  rd_kafka_resp_err_t produce(OutboundRecord& record);

  // Serves delivery reports and client errors.
  void poll(std::chrono::milliseconds timeout);
  // Waits until everything enqueued is delivered or failed, or the deadline passes. Returns
  // the number of records still outstanding.
  int flush(std::chrono::milliseconds timeout);
  int outstanding() const;

  rd_kafka_t* handle() const { return handle_.get(); }

  // The transactional API (a producer created with transactional.id). Each returns nullptr on
  // success, else the error (check rd_kafka_error_is_retriable / _txn_requires_abort /
  // _is_fatal).
  ErrorPtr init_transactions(std::chrono::milliseconds timeout);
  ErrorPtr begin_transaction();
  ErrorPtr send_offsets_to_transaction(const rd_kafka_topic_partition_list_t& offsets,
                                       const rd_kafka_consumer_group_metadata_t& group, std::chrono::milliseconds timeout);
  ErrorPtr commit_transaction(std::chrono::milliseconds timeout);
  ErrorPtr abort_transaction(std::chrono::milliseconds timeout);

 private:
  Producer() = default;
  static void on_delivery_report(rd_kafka_t* rk, const rd_kafka_message_t* message, void* opaque);

  // A handle for `topic`, or nullptr when too many topics already have one (then the name is
  // passed instead).
  rd_kafka_topic_t* topic_handle(std::string_view topic);

  DeliveryHandler on_delivery_;
  ClientContext context_;  // must outlive handle_ (declared before it)
  HandlePtr handle_;
  // Naming the topic in each produce call makes librdkafka take the client's write lock and
  // search its topic list; a handle skips both. The set of topics sluice produces to is
  // small and fixed by the config (routes, retry tiers, rejected, DLQ). Declared after
  // handle_: the handles go before the client.
  std::vector<std::pair<std::string, TopicPtr>> topics_;
};

}  // namespace sluice::kafka
