#include "kafka/producer.h"

#include "common/log.h"
#include "common/text.h"

namespace sluice::kafka {

namespace {
// More topics than any config names; past it, produce() names the topic in each call.
constexpr size_t kMaxTopicHandles = 16;
}  // namespace

TxnResult txn_result(ErrorPtr error) {
  if (!error) return std::nullopt;
  TxnError result;
  result.code = rd_kafka_error_code(error.get());
  result.name = rd_kafka_error_name(error.get());
  result.text = rd_kafka_error_string(error.get());
  result.retriable = rd_kafka_error_is_retriable(error.get()) != 0;
  result.abortable = rd_kafka_error_txn_requires_abort(error.get()) != 0;
  result.fatal = rd_kafka_error_is_fatal(error.get()) != 0;
  return result;
}

std::unique_ptr<Producer> Producer::create(const Properties& properties, std::vector<std::string>& errors) {
  ConfPtr conf = make_conf(properties, errors);
  if (!errors.empty()) return nullptr;
  std::unique_ptr<Producer> producer(new Producer());
  producer->context_.owner = producer.get();
  producer->context_.on_error = [self = producer.get()](rd_kafka_resp_err_t error, const std::string& reason, bool fatal) {
    if (self->on_error_) {
      self->on_error_(error, reason, fatal);
    } else {
      log::warn("kafka producer error", {{"error", error_name(error)}, {"detail", reason}});
    }
  };
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &Producer::on_delivery_report);
  std::string error;
  producer->handle_ = make_client(RD_KAFKA_PRODUCER, std::move(conf), &producer->context_, error);
  if (!producer->handle_) {
    errors.push_back("producer: " + error);
    return nullptr;
  }
  char value[64];
  size_t value_size = sizeof value;
  if (rd_kafka_conf_get(rd_kafka_conf(producer->handle_.get()), "message.max.bytes", value, &value_size) ==
      RD_KAFKA_CONF_OK) {
    producer->max_message_bytes_ = text::parse_int(value).value_or(producer->max_message_bytes_);
  }
  return producer;
}

std::unique_ptr<Producer> Producer::create(const Properties& properties, DeliveryHandler on_delivery,
                                           ProducerErrorHandler on_error, std::vector<std::string>& errors) {
  std::unique_ptr<Producer> producer = create(properties, errors);
  if (producer) producer->set_handlers(std::move(on_delivery), std::move(on_error));
  return producer;
}

Producer::~Producer() = default;

void Producer::set_handlers(DeliveryHandler on_delivery, ProducerErrorHandler on_error) {
  on_delivery_ = std::move(on_delivery);
  on_error_ = std::move(on_error);
}

void Producer::enable_wake(int fd) {
  static const char kWakeByte = 'k';
  QueuePtr queue(rd_kafka_queue_get_main(handle_.get()));
  rd_kafka_queue_io_event_enable(queue.get(), fd, &kWakeByte, 1);
}

void Producer::on_delivery_report(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
  auto* self = static_cast<Producer*>(static_cast<ClientContext*>(opaque)->owner);
  if (self->on_delivery_) self->on_delivery_(message->_private, message->err);
}

rd_kafka_topic_t* Producer::topic_handle(std::string_view topic) {
  for (const auto& [name, handle] : topics_) {
    if (name == topic) return handle.get();
  }
  if (topics_.size() >= kMaxTopicHandles) return nullptr;
  std::string name(topic);
  TopicPtr handle(rd_kafka_topic_new(handle_.get(), name.c_str(), nullptr));
  if (!handle) return nullptr;
  return topics_.emplace_back(std::move(name), std::move(handle)).second.get();
}

rd_kafka_resp_err_t Producer::produce(OutboundRecord& record) {
  rd_kafka_vu_t values[7];
  size_t count = 0;
  if (rd_kafka_topic_t* topic = topic_handle(record.topic)) {
    values[count].vtype = RD_KAFKA_VTYPE_RKT;
    values[count++].u.rkt = topic;
  } else {
    values[count].vtype = RD_KAFKA_VTYPE_TOPIC;
    // librdkafka wants a NUL-terminated topic name; topic views handed to us always point
    // into std::strings (config or a consumed message's topic), which are NUL-terminated.
    values[count++].u.cstr = record.topic.data();
  }
  if (record.partition >= 0) {
    values[count].vtype = RD_KAFKA_VTYPE_PARTITION;
    values[count++].u.i32 = record.partition;
  }
  values[count].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
  values[count++].u.i = RD_KAFKA_MSG_F_COPY;
  if (record.key != nullptr) {
    values[count].vtype = RD_KAFKA_VTYPE_KEY;
    values[count].u.mem.ptr = const_cast<void*>(record.key);
    values[count++].u.mem.size = record.key_size;
  }
  values[count].vtype = RD_KAFKA_VTYPE_VALUE;
  values[count].u.mem.ptr = record.null_value ? nullptr : const_cast<char*>(record.value.data());
  values[count++].u.mem.size = record.null_value ? 0 : record.value.size();
  values[count].vtype = RD_KAFKA_VTYPE_OPAQUE;
  values[count++].u.ptr = record.opaque;
  if (record.headers) {
    values[count].vtype = RD_KAFKA_VTYPE_HEADERS;
    values[count++].u.headers = record.headers.get();
  }
  ErrorPtr error(rd_kafka_produceva(handle_.get(), values, count));
  if (error) return rd_kafka_error_code(error.get());
  (void)record.headers.release();  // owned by librdkafka now
  return RD_KAFKA_RESP_ERR_NO_ERROR;
}

void Producer::poll(std::chrono::milliseconds timeout) { rd_kafka_poll(handle_.get(), static_cast<int>(timeout.count())); }

int Producer::flush(std::chrono::milliseconds timeout) {
  rd_kafka_flush(handle_.get(), static_cast<int>(timeout.count()));
  return outstanding();
}

int Producer::outstanding() const { return rd_kafka_outq_len(handle_.get()); }

void Producer::purge() {
  // Queued and in-flight records alike; without waiting for the requests on the wire.
  rd_kafka_purge(handle_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT | RD_KAFKA_PURGE_F_NON_BLOCKING);
}

TxnResult Producer::init_transactions(std::chrono::milliseconds timeout) {
  return txn_result(ErrorPtr(rd_kafka_init_transactions(handle_.get(), static_cast<int>(timeout.count()))));
}

TxnResult Producer::begin_transaction() { return txn_result(ErrorPtr(rd_kafka_begin_transaction(handle_.get()))); }

TxnResult Producer::send_offsets_to_transaction(const std::vector<PartitionOffset>& offsets, const GroupMetadata& group,
                                                std::chrono::milliseconds timeout) {
  PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size())));
  for (const PartitionOffset& entry : offsets) {
    rd_kafka_topic_partition_list_add(list.get(), entry.topic.c_str(), entry.partition)->offset = entry.offset;
  }
  GroupMetadataPtr fallback;
  const rd_kafka_consumer_group_metadata_t* metadata = group.handle.get();
  if (metadata == nullptr) {
    fallback.reset(rd_kafka_consumer_group_metadata_new_with_genid(group.group_id.c_str(), group.generation_id,
                                                                   group.member_id.c_str(), nullptr));
    metadata = fallback.get();
  }
  return txn_result(ErrorPtr(
      rd_kafka_send_offsets_to_transaction(handle_.get(), list.get(), metadata, static_cast<int>(timeout.count()))));
}

TxnResult Producer::commit_transaction(std::chrono::milliseconds timeout) {
  return txn_result(ErrorPtr(rd_kafka_commit_transaction(handle_.get(), static_cast<int>(timeout.count()))));
}

TxnResult Producer::abort_transaction(std::chrono::milliseconds timeout) {
  return txn_result(ErrorPtr(rd_kafka_abort_transaction(handle_.get(), static_cast<int>(timeout.count()))));
}

}  // namespace sluice::kafka
