#pragma once
// Creating librdkafka clients from property maps, with librdkafka's own log and error
// callbacks routed into sluice's logger.

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kafka/handles.h"

namespace sluice::kafka {

using Properties = std::map<std::string, std::string>;

// Applies every property; each one librdkafka rejects becomes an error "name: why".
ConfPtr make_conf(const Properties& properties, std::vector<std::string>& errors);

// Called from rd_kafka_poll()/consume on the polling thread for client-level errors. `fatal`
// is set for errors after which the client is unusable (an idempotent producer's fatal error).
using ClientErrorHandler = std::function<void(rd_kafka_resp_err_t error, const std::string& reason, bool fatal)>;

// What librdkafka's callbacks reach through the client's opaque. Owned by the wrapper that
// owns the client and declared before its HandlePtr, so it outlives rd_kafka_destroy().
struct ClientContext {
  ClientErrorHandler on_error;
  void* owner = nullptr;  // the wrapper (e.g. the Producer, for delivery reports)
};

// Creates the client; on success `conf` is consumed.
HandlePtr make_client(rd_kafka_type_t type, ConfPtr conf, ClientContext* context, std::string& error);

// librdkafka's name for an error code without the RD_KAFKA_RESP_ERR_ prefix, e.g. "_MSG_TIMED_OUT".
std::string error_name(rd_kafka_resp_err_t error);

}  // namespace sluice::kafka
