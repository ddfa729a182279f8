#include "engine/kafka_topic_sink.h"

#include "engine/error_classes.h"
#include "kafka/client.h"

namespace sluice::engine {

SendResult KafkaTopicSink::send(InFlightRecord& record) {
  const kafka::Message& message = record.message;
  kafka::OutboundRecord out;
  out.topic = topic_;
  out.key = message.key_data();
  out.key_size = message.key_size();
  out.value = record.value();
  out.null_value = record.value_is_null();
  out.headers = headers_.build(record);
  out.opaque = &record;
  rd_kafka_resp_err_t error = producer_.produce(out);
  if (error == RD_KAFKA_RESP_ERR_NO_ERROR) return {};
  if (error == RD_KAFKA_RESP_ERR__QUEUE_FULL) return {SendStatus::QueueFull, {}};
  if (classify_produce_error(error) == ErrorClass::BadData) return {SendStatus::Rejected, kafka::error_name(error)};
  // Anything else refused locally (e.g. unknown topic while metadata is missing) is treated
  // like a full queue: the record waits and is offered again.
  return {SendStatus::QueueFull, kafka::error_name(error)};
}

}  // namespace sluice::engine
