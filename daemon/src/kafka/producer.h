#pragma once
// librdkafka's producer behind ProducerApi: the one producer of a sluice instance (and of
// `sluice replay`). Asynchronous: produce() only enqueues; the outcome arrives as a delivery
// report, dispatched to the DeliveryHandler from poll() / flush() / a transaction call on the
// calling thread.
//
// Stop: flush(deadline) waits for outstanding deliveries; purge() gives up the rest, whose
// reports then come with an error. Destruction does not wait for anything still queued.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kafka/client.h"
#include "kafka/producer_api.h"

namespace sluice::kafka {

class Producer final : public ProducerApi {
 public:
  static std::unique_ptr<Producer> create(const Properties& properties, std::vector<std::string>& errors);
  // The same, with the handlers set.
  static std::unique_ptr<Producer> create(const Properties& properties, DeliveryHandler on_delivery,
                                          ProducerErrorHandler on_error, std::vector<std::string>& errors);
  ~Producer() override;

  void set_handlers(DeliveryHandler on_delivery, ProducerErrorHandler on_error) override;
  void enable_wake(int fd) override;
  // From one thread at a time: it keeps the topic handles it has looked up.
  rd_kafka_resp_err_t produce(OutboundRecord& record) override;
  void poll(std::chrono::milliseconds timeout) override;
  int flush(std::chrono::milliseconds timeout) override;
  int outstanding() const override;
  void purge() override;
  int64_t max_message_bytes() const override { return max_message_bytes_; }

  TxnResult init_transactions(std::chrono::milliseconds timeout) override;
  TxnResult begin_transaction() override;
  TxnResult send_offsets_to_transaction(const std::vector<PartitionOffset>& offsets, const GroupMetadata& group,
                                        std::chrono::milliseconds timeout) override;
  TxnResult commit_transaction(std::chrono::milliseconds timeout) override;
  TxnResult abort_transaction(std::chrono::milliseconds timeout) override;

 private:
  Producer() = default;
  static void on_delivery_report(rd_kafka_t* rk, const rd_kafka_message_t* message, void* opaque);

  // A handle for `topic`, or nullptr when too many topics already have one (then the name is
  // passed instead).
  rd_kafka_topic_t* topic_handle(std::string_view topic);

  DeliveryHandler on_delivery_;
  ProducerErrorHandler on_error_;
  int64_t max_message_bytes_ = 1'000'000;
  ClientContext context_;  // must outlive handle_ (declared before it)
  HandlePtr handle_;
  // Naming the topic in each produce call makes librdkafka take the client's write lock and
  // search its topic list; a handle skips both. The set of topics sluice produces to is
  // small and fixed by the config (routes, retry tiers, rejected, DLQ). Declared after
  // handle_: the handles go before the client.
  std::vector<std::pair<std::string, TopicPtr>> topics_;
};

// A transactional call's error as a TxnResult (nullopt for nullptr).
TxnResult txn_result(ErrorPtr error);

}  // namespace sluice::kafka
