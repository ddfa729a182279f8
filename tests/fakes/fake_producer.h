#pragma once
// A producer for tests that records every call and lets the test decide every delivery. A
// produced record is "in flight" until the test acknowledges it (it is then written to the
// FakeCluster: as part of the open transaction for a transactional producer) or fails it;
// its delivery report reaches the engine at its next poll(), as librdkafka's do. Records of
// one partition are acknowledged in produce order (an idempotent producer's guarantee).
//
// flush() settles what is in flight by the settle policy (every record acknowledged by
// default): it is what "waiting for acknowledgements" means here; so does poll() unless
// auto-settling is turned off. A policy that leaves
// records unsettled makes flush() advance the test's clock by its timeout instead.
//
// Transactions follow librdkafka's rules as far as the engine can see them: producing
// outside a transaction is refused; commit settles everything in flight first and is
// abortable when any record of the transaction failed; abort purges what is in flight; a
// producer fenced by a newer one with the same transactional.id fails fatally.
//
// Threading: one thread.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "fakes/fake_cluster.h"
#include "kafka/producer_api.h"

namespace sluice::fakes {

class FakeProducer final : public kafka::ProducerApi {
 public:
  struct InFlight {
    uint64_t id = 0;
    std::string topic;
    int32_t partition = 0;
    StoredRecord record;
    void* opaque = nullptr;
  };
  // Decides a record's fate when flush() or settle_all() settles it: NO_ERROR acknowledges,
  // anything else fails it with that error; nullopt leaves it in flight.
  using SettlePolicy = std::function<std::optional<rd_kafka_resp_err_t>(const InFlight&)>;

  // An empty `transactional_id`: not transactional.
  FakeProducer(FakeCluster& cluster, std::string transactional_id = {});

  // ---- what the test controls
  std::vector<InFlight>& in_flight() { return in_flight_; }
  // Acknowledges or fails in-flight record `index` (and, acknowledging, every earlier one of
  // its partition first).
  void acknowledge(size_t index);
  void fail(size_t index, rd_kafka_resp_err_t error);
  // Settles every in-flight record by the policy.
  void settle_all();
  void set_settle_policy(SettlePolicy policy) { settle_policy_ = std::move(policy); }
  // Whether poll() settles what is in flight first (by the policy), as a broker that
  // acknowledges at once; off, only the test's acknowledge()/fail() and flush() settle.
  void set_auto_settle(bool on) { auto_settle_ = on; }
  // Called with the timeout of a flush() that leaves records in flight, or of a poll() with
  // nothing to serve: the time they would have waited (a test advances its clock).
  void set_wait_hook(std::function<void(std::chrono::milliseconds)> hook) { wait_hook_ = std::move(hook); }
  // produce() refuses locally with this error while it returns one (e.g. MSG_SIZE_TOO_LARGE).
  std::function<rd_kafka_resp_err_t(const kafka::OutboundRecord&)> refuse;
  int64_t max_bytes = 1'000'000;
  // Every call, in order (e.g. "produce dlq", "begin_transaction", "commit_transaction").
  std::vector<std::string> calls;
  // Records produced outside an open transaction (a transactional producer must never).
  int produced_outside_transaction = 0;
  int32_t epoch() const { return epoch_; }

  // ---- ProducerApi
  void set_handlers(kafka::DeliveryHandler on_delivery, kafka::ProducerErrorHandler on_error) override;
  void enable_wake(int) override {}
  rd_kafka_resp_err_t produce(kafka::OutboundRecord& record) override;
  void poll(std::chrono::milliseconds timeout) override;
  int flush(std::chrono::milliseconds timeout) override;
  int outstanding() const override { return static_cast<int>(in_flight_.size() + reports_.size()); }
  void purge() override;
  int64_t max_message_bytes() const override { return max_bytes; }
  kafka::TxnResult init_transactions(std::chrono::milliseconds timeout) override;
  kafka::TxnResult begin_transaction() override;
  kafka::TxnResult send_offsets_to_transaction(const std::vector<kafka::PartitionOffset>& offsets,
                                               const kafka::GroupMetadata& group,
                                               std::chrono::milliseconds timeout) override;
  kafka::TxnResult commit_transaction(std::chrono::milliseconds timeout) override;
  kafka::TxnResult abort_transaction(std::chrono::milliseconds timeout) override;

 private:
  struct Report {
    void* opaque;
    rd_kafka_resp_err_t error;
  };
  void settle(size_t index, rd_kafka_resp_err_t error);
  void serve_reports();
  kafka::TxnError fatal_fenced();

  FakeCluster& cluster_;
  const std::string transactional_id_;
  int32_t epoch_ = 0;
  bool transaction_open_ = false;
  bool transaction_failed_ = false;  // a record of the open transaction failed
  bool fatal_ = false;
  uint64_t next_id_ = 1;
  std::vector<InFlight> in_flight_;
  std::deque<Report> reports_;
  kafka::DeliveryHandler on_delivery_;
  kafka::ProducerErrorHandler on_error_;
  SettlePolicy settle_policy_;
  bool auto_settle_ = true;
  std::function<void(std::chrono::milliseconds)> wait_hook_;
};

}  // namespace sluice::fakes
