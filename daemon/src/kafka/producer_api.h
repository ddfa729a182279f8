#pragma once
// The engine's view of its one producer: every record sluice writes (downstream, retry tiers,
// rejected, DLQ) goes through it, and with exactly-once delivery its transactions too.
// Producer (producer.h) is librdkafka's; tests use a fake that records every call and decides
// every delivery.
//
// produce() only enqueues; each record's delivery report reaches the DeliveryHandler later,
// from within poll(), flush() or a transaction call, on the calling (engine) thread.
//
// Threading: engine thread only.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kafka/consumer_api.h"
#include "kafka/handles.h"

namespace sluice::kafka {

struct OutboundRecord {
  std::string_view topic;     // must stay valid (and NUL-terminated) until produce() returns
  const void* key = nullptr;  // nullptr: the record has no key (distinct from an empty key)
  size_t key_size = 0;
  std::string_view value;
  bool null_value = false;  // produce a tombstone instead of `value`
  int32_t partition = -1;   // -1 (RD_KAFKA_PARTITION_UA): the partitioner picks one by key
  HeadersPtr headers;       // taken over by the producer on success
  void* opaque = nullptr;   // handed back with the delivery report
};

// One produced record's final status. `opaque` is what was passed to produce().
using DeliveryHandler = std::function<void(void* opaque, rd_kafka_resp_err_t error)>;
// Client-level errors; `fatal`: the producer is unusable (e.g. fenced).
using ProducerErrorHandler = std::function<void(rd_kafka_resp_err_t error, const std::string& reason, bool fatal)>;

// How a transactional call failed, as librdkafka classifies it: retriable (call it again),
// abortable (abort the transaction, then go on), fatal (the producer is unusable: fenced by a
// newer instance with the same transactional.id, or broken).
struct TxnError {
  rd_kafka_resp_err_t code = RD_KAFKA_RESP_ERR_NO_ERROR;
  std::string name;
  std::string text;
  bool retriable = false;
  bool abortable = false;
  bool fatal = false;
};
using TxnResult = std::optional<TxnError>;  // nullopt: success

class ProducerApi {
 public:
  virtual ~ProducerApi() = default;

  // Both set once, before the first produce().
  virtual void set_handlers(DeliveryHandler on_delivery, ProducerErrorHandler on_error) = 0;
  // Write one byte to `fd` whenever delivery reports or errors are waiting.
  virtual void enable_wake(int fd) = 0;

  // Enqueues a copy. On error nothing was enqueued (e.g. _QUEUE_FULL, MSG_SIZE_TOO_LARGE) and
  // `record.headers` still belongs to the caller.
  virtual rd_kafka_resp_err_t produce(OutboundRecord& record) = 0;
  // Serves delivery reports and errors, waiting at most `timeout` for the first.
  virtual void poll(std::chrono::milliseconds timeout) = 0;
  // Waits until everything enqueued is delivered or failed, or `timeout`; returns how many
  // are still outstanding.
  virtual int flush(std::chrono::milliseconds timeout) = 0;
  virtual int outstanding() const = 0;
  // Gives up every record not yet acknowledged, queued or in flight: each gets its delivery
  // report (an error) from the next poll(). For a stop that must not wait any longer.
  virtual void purge() = 0;
  // The largest record the producer accepts (message.max.bytes).
  virtual int64_t max_message_bytes() const = 0;

  // The transactional API (a producer with transactional.id).
  virtual TxnResult init_transactions(std::chrono::milliseconds timeout) = 0;
  virtual TxnResult begin_transaction() = 0;
  virtual TxnResult send_offsets_to_transaction(const std::vector<PartitionOffset>& offsets,
                                                const GroupMetadata& group, std::chrono::milliseconds timeout) = 0;
  virtual TxnResult commit_transaction(std::chrono::milliseconds timeout) = 0;
  virtual TxnResult abort_transaction(std::chrono::milliseconds timeout) = 0;
};

}  // namespace sluice::kafka
