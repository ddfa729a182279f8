#include "fakes/fake_producer.h"

#include <functional>

namespace sluice::fakes {

FakeProducer::FakeProducer(FakeCluster& cluster, std::string transactional_id)
    : cluster_(cluster), transactional_id_(std::move(transactional_id)) {
  settle_policy_ = [](const InFlight&) -> std::optional<rd_kafka_resp_err_t> { return RD_KAFKA_RESP_ERR_NO_ERROR; };
}

void FakeProducer::set_handlers(kafka::DeliveryHandler on_delivery, kafka::ProducerErrorHandler on_error) {
  on_delivery_ = std::move(on_delivery);
  on_error_ = std::move(on_error);
}

rd_kafka_resp_err_t FakeProducer::produce(kafka::OutboundRecord& out) {
  calls.push_back("produce " + std::string(out.topic));
  if (fatal_) return RD_KAFKA_RESP_ERR__FATAL;
  if (!transactional_id_.empty() && !transaction_open_) {
    produced_outside_transaction += 1;
    return RD_KAFKA_RESP_ERR__STATE;
  }
  if (refuse) {
    if (rd_kafka_resp_err_t error = refuse(out); error != RD_KAFKA_RESP_ERR_NO_ERROR) return error;
  }
  const std::string topic(out.topic);
  if (!cluster_.has_topic(topic)) return RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
  InFlight entry;
  entry.id = next_id_++;
  entry.topic = topic;
  if (out.key != nullptr) entry.record.key = std::string(static_cast<const char*>(out.key), out.key_size);
  if (!out.null_value) entry.record.value = std::string(out.value);
  size_t bytes = out.key_size + out.value.size();
  if (out.headers) {
    const char* name = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    for (size_t i = 0; rd_kafka_header_get_all(out.headers.get(), i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
         ++i) {
      entry.record.headers.emplace_back(name, value != nullptr ? std::string(static_cast<const char*>(value), size) : "");
      bytes += std::string_view(name).size() + size;
    }
  }
  if (static_cast<int64_t>(bytes) > max_bytes) return RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE;
  // A partition asked for is taken (one the topic does not have is refused, as librdkafka
  // does); keyed records go by key, as librdkafka's default partitioner does (any fixed
  // function of the key would do here); others to partition 0.
  const int partitions = cluster_.partitions(topic);
  if (out.partition >= partitions && partitions > 0) return RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION;
  entry.partition = out.partition >= 0 ? out.partition
                    : entry.record.key && partitions > 0
                        ? static_cast<int32_t>(std::hash<std::string>()(*entry.record.key) % static_cast<size_t>(partitions))
                        : 0;
  entry.opaque = out.opaque;
  out.headers.reset();  // taken over, as librdkafka does
  in_flight_.push_back(std::move(entry));
  return RD_KAFKA_RESP_ERR_NO_ERROR;
}

void FakeProducer::settle(size_t index, rd_kafka_resp_err_t error) {
  InFlight entry = std::move(in_flight_[index]);
  in_flight_.erase(in_flight_.begin() + static_cast<std::ptrdiff_t>(index));
  if (error == RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (transactional_id_.empty()) {
      cluster_.append(entry.topic, entry.partition, std::move(entry.record));
    } else {
      error = cluster_.append_transactional(transactional_id_, epoch_, entry.topic, entry.partition, std::move(entry.record));
      if (error == RD_KAFKA_RESP_ERR_PRODUCER_FENCED && !fatal_) {
        fatal_ = true;
        if (on_error_) on_error_(error, "fenced by a newer producer with the same transactional.id", true);
      }
    }
  }
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR && transaction_open_) transaction_failed_ = true;
  reports_.push_back({entry.opaque, error});
}

void FakeProducer::acknowledge(size_t index) {
  // An idempotent producer acknowledges a partition's records in order.
  const std::string topic = in_flight_[index].topic;
  const int32_t partition = in_flight_[index].partition;
  const uint64_t id = in_flight_[index].id;
  for (size_t i = 0; i < in_flight_.size();) {
    if (in_flight_[i].topic == topic && in_flight_[i].partition == partition && in_flight_[i].id <= id) {
      settle(i, RD_KAFKA_RESP_ERR_NO_ERROR);
    } else {
      ++i;
    }
  }
}

void FakeProducer::fail(size_t index, rd_kafka_resp_err_t error) { settle(index, error); }

void FakeProducer::settle_all() {
  for (size_t i = 0; i < in_flight_.size();) {
    std::optional<rd_kafka_resp_err_t> fate = settle_policy_(in_flight_[i]);
    if (!fate) {
      ++i;
      continue;
    }
    settle(i, *fate);
  }
}

void FakeProducer::serve_reports() {
  while (!reports_.empty()) {
    Report report = reports_.front();
    reports_.pop_front();
    if (on_delivery_) on_delivery_(report.opaque, report.error);
  }
}

void FakeProducer::poll(std::chrono::milliseconds timeout) {
  calls.push_back("poll");
  if (auto_settle_) settle_all();
  // A poll with nothing to serve waits its timeout out.
  if (reports_.empty() && timeout.count() > 0 && wait_hook_) wait_hook_(timeout);
  serve_reports();
}

int FakeProducer::flush(std::chrono::milliseconds timeout) {
  settle_all();
  serve_reports();
  if (!in_flight_.empty() && wait_hook_) wait_hook_(timeout);
  return outstanding();
}

void FakeProducer::purge() {
  calls.push_back("purge");
  while (!in_flight_.empty()) {
    reports_.push_back({in_flight_.front().opaque, RD_KAFKA_RESP_ERR__PURGE_INFLIGHT});
    in_flight_.erase(in_flight_.begin());
  }
}

kafka::TxnError FakeProducer::fatal_fenced() {
  kafka::TxnError error;
  error.code = RD_KAFKA_RESP_ERR__FENCED;
  error.name = rd_kafka_err2name(error.code);
  error.text = "fenced";
  error.fatal = true;
  return error;
}

kafka::TxnResult FakeProducer::init_transactions(std::chrono::milliseconds) {
  calls.push_back("init_transactions");
  epoch_ = cluster_.init_transactions(transactional_id_);
  return std::nullopt;
}

kafka::TxnResult FakeProducer::begin_transaction() {
  calls.push_back("begin_transaction");
  if (fatal_ || cluster_.fenced(transactional_id_, epoch_)) {
    fatal_ = true;
    return fatal_fenced();
  }
  transaction_open_ = true;
  transaction_failed_ = false;
  return std::nullopt;
}

kafka::TxnResult FakeProducer::send_offsets_to_transaction(const std::vector<kafka::PartitionOffset>& offsets,
                                                           const kafka::GroupMetadata& group, std::chrono::milliseconds) {
  calls.push_back("send_offsets_to_transaction generation=" + std::to_string(group.generation_id) + " member=" +
                  group.member_id);
  kafka::TxnResult result = cluster_.add_offsets(transactional_id_, epoch_, offsets, group);
  if (result && result->fatal) fatal_ = true;
  return result;
}

kafka::TxnResult FakeProducer::commit_transaction(std::chrono::milliseconds timeout) {
  calls.push_back("commit_transaction");
  if (fatal_) return fatal_fenced();
  // librdkafka flushes the transaction's records before it commits.
  flush(timeout);
  if (!in_flight_.empty()) {
    kafka::TxnError error;
    error.code = RD_KAFKA_RESP_ERR__TIMED_OUT;
    error.name = "_TIMED_OUT";
    error.text = "records of the transaction still in flight";
    error.retriable = true;
    return error;
  }
  if (transaction_failed_) {
    kafka::TxnError error;
    error.code = RD_KAFKA_RESP_ERR__INCONSISTENT;
    error.name = "_INCONSISTENT";
    error.text = "a record of the transaction failed";
    error.abortable = true;
    return error;
  }
  kafka::TxnResult result = cluster_.commit_transaction(transactional_id_, epoch_);
  if (result && result->fatal) fatal_ = true;
  if (!result) transaction_open_ = false;
  return result;
}

kafka::TxnResult FakeProducer::abort_transaction(std::chrono::milliseconds) {
  calls.push_back("abort_transaction");
  if (fatal_) return fatal_fenced();
  purge();
  kafka::TxnResult result = cluster_.abort_transaction(transactional_id_, epoch_);
  if (result && result->fatal) fatal_ = true;
  transaction_open_ = false;
  transaction_failed_ = false;
  return result;
}

}  // namespace sluice::fakes
