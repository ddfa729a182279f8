#include "kafka/producer.h"

namespace sluice::kafka {

namespace {
// More topics than any config names; past it, produce() names the topic in each call.
constexpr size_t kMaxTopicHandles = 16;
}  // namespace

std::unique_ptr<Producer> Producer::create(const Properties& properties, DeliveryHandler on_delivery,
                                           ClientErrorHandler on_error, std::vector<std::string>& errors) {
  ConfPtr conf = make_conf(properties, errors);
  if (!errors.empty()) return nullptr;
  std::unique_ptr<Producer> producer(new Producer());
  producer->on_delivery_ = std::move(on_delivery);
  producer->context_.on_error = std::move(on_error);
  producer->context_.owner = producer.get();
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &Producer::on_delivery_report);
  std::string error;
  producer->handle_ = make_client(RD_KAFKA_PRODUCER, std::move(conf), &producer->context_, error);
  if (!producer->handle_) {
    errors.push_back("producer: " + error);
    return nullptr;
  }
  return producer;
}

Producer::~Producer() = default;

void Producer::on_delivery_report(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
  auto* context = static_cast<ClientContext*>(opaque);
  auto* self = static_cast<Producer*>(context->owner);
  self->on_delivery_(message->_private, message->err, *message);
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
  rd_kafka_vu_t values[6];
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

ErrorPtr Producer::init_transactions(std::chrono::milliseconds timeout) {
  return ErrorPtr(rd_kafka_init_transactions(handle_.get(), static_cast<int>(timeout.count())));
}

ErrorPtr Producer::begin_transaction() { return ErrorPtr(rd_kafka_begin_transaction(handle_.get())); }

ErrorPtr Producer::send_offsets_to_transaction(const rd_kafka_topic_partition_list_t& offsets,
                                               const rd_kafka_consumer_group_metadata_t& group,
                                               std::chrono::milliseconds timeout) {
  return ErrorPtr(rd_kafka_send_offsets_to_transaction(handle_.get(), &offsets, &group, static_cast<int>(timeout.count())));
}

ErrorPtr Producer::commit_transaction(std::chrono::milliseconds timeout) {
  return ErrorPtr(rd_kafka_commit_transaction(handle_.get(), static_cast<int>(timeout.count())));
}

ErrorPtr Producer::abort_transaction(std::chrono::milliseconds timeout) {
  return ErrorPtr(rd_kafka_abort_transaction(handle_.get(), static_cast<int>(timeout.count())));
}

}  // namespace sluice::kafka
