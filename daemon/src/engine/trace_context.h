#pragma once
// W3C Trace Context on records: the trace id of a record's `traceparent` header, for sluice's
// log lines about that record (field `trace_id`), so a trace that reached sluice can be
// followed into its logs.
//
// Cheap on purpose: the header is looked up and parsed only when a line about the record is
// actually written, never per record on the hot path. Threading: whoever holds the record.

#include <string_view>

#include "common/log.h"
#include "kafka/message.h"

namespace sluice::engine {

// The Kafka header carrying the W3C trace context.
inline constexpr const char* kTraceparentHeader = "traceparent";

// The trace-id (32 lowercase hex digits) of a valid traceparent, "00-<trace-id>-<parent-id>-<flags>"
// (W3C Trace Context level 1); empty for anything else: wrong shape or length, uppercase hex,
// an all-zero trace-id or parent-id, version ff. A later version may append fields after the
// flags ("-..."); its first four fields are read the same way.
std::string_view trace_id_of(std::string_view traceparent);

// The trace-id of the record's last traceparent header; empty when it has none or it is not
// valid. A view into the message's headers: used before the message changes.
std::string_view record_trace_id(const kafka::Message& message);

// Writes a log line about one record: `fields`, then trace_id when the record has one.
void log_record(log::Level level, std::string_view msg, const kafka::Message& message, log::Fields fields);

}  // namespace sluice::engine
