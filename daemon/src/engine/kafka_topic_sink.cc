#include "engine/kafka_topic_sink.h"

#include <cstdio>

#include "common/text.h"
#include "engine/error_classes.h"
#include "engine/record_headers.h"
#include "kafka/client.h"

namespace sluice::engine {

SendResult KafkaTopicSink::send(InFlightRecord& record) {
  const rd_kafka_message_t& message = *record.message;
  text::assign_hex(record.fingerprint.bytes.data(), record.fingerprint.bytes.size(), fingerprint_hex_);
  char numbers[48];
  int length = std::snprintf(numbers, sizeof numbers, "/%d/%lld", static_cast<int>(record.partition->partition),
                             static_cast<long long>(record.offset));
  source_.assign(record.partition->topic).append(numbers, static_cast<size_t>(length));
  kafka::OutboundRecord out;
  out.topic = topic_;
  out.key = message.key;
  out.key_size = message.key_len;
  out.value = record.value();
  out.null_value = record.value_is_null();
  // A record that failed before (it comes from a retry tier) keeps its retry headers, but no
  // longer carries an error: it was delivered.
  out.headers = derive_headers(message, {{header::kFingerprint, fingerprint_hex_}, {header::kSource, source_}},
                               {header::kError, header::kErrorStage});
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
