// The rows of `routes` and its entries' keys (routes[].…), split from key_table.cc: one file
// per part of the table, the whole table still built once by key_table().

#include <chrono>

#include "config/key_bindings.h"
#include "config/key_table.h"

namespace sluice::config::bindings {
namespace {

using namespace std::chrono_literals;

constexpr EnumSpelling<Ordering> kOrderings[] = {
    {"partition", Ordering::Partition},
    {"key", Ordering::Key},
    {"none", Ordering::None},
};

}  // namespace

void add_route_rows(KeyTable& rows) {
  auto add = [&rows](KeyRow row) { rows.push_back(std::move(row)); };

  add({.path = "routes",
       .type = KeyType::ObjectList,
       .default_text = "[{match: {channel: email}, topic: clean.email}, {match: {channel: whatsapp}, topic: clean.whatsapp}]",
       .flags = {.non_empty = true},
       .doc = "Where clean messages go; the first route whose match fits wins.",
       .bind = routes_list()});
  add({.path = "routes[].match",
       .type = KeyType::Object,
       .flags = {.required = true},
       .doc = "What the route takes: channel, message_type, or both (then both must fit)."});
  add({.path = "routes[].match.channel",
       .type = KeyType::String,
       .flags = {.non_empty = true},
       .doc = "The message's channel equals this; leave it out to take any channel.",
       .bind = route_field([](auto& r) -> auto& { return r.match.channel; })});
  add({.path = "routes[].match.message_type",
       .type = KeyType::String,
       .flags = {.non_empty = true},
       .doc = "The message's message_type equals this; leave it out to take any type.",
       .bind = route_field([](auto& r) -> auto& { return r.match.message_type; })});
  add({.path = "routes[].topic",
       .type = KeyType::String,
       .flags = {.non_empty = true, .topic_name = true},
       .doc = "Topic the matching messages are forwarded to (a route has a topic or an http endpoint).",
       .bind = route_field([](auto& r) -> auto& { return r.topic; })});
  add({.path = "routes[].http",
       .type = KeyType::Object,
       .flags = {.optional_object = true},
       .doc = "HTTP endpoint the matching messages are POSTed to, instead of a topic."});
  add({.path = "routes[].http.url",
       .type = KeyType::String,
       .flags = {.required = true, .non_empty = true},
       .doc = "http:// or https:// URL of the endpoint.",
       .bind = http_field([](auto& h) -> auto& { return h.url; })});
  add({.path = "routes[].http.method",
       .type = KeyType::Enum,
       .default_text = "POST",
       .allowed = {"POST", "PUT", "PATCH"},
       .doc = "HTTP method of each request.",
       .bind = http_field([](auto& h) -> auto& { return h.method; })});
  add({.path = "routes[].http.timeout",
       .type = KeyType::Duration,
       .default_text = "5s",
       .min = ms(1ms),
       .max = ms(10min),
       .doc = "Deadline of one request, from sending to the whole response.",
       .bind = http_field([](auto& h) -> auto& { return h.timeout; })});
  add({.path = "routes[].http.max_connections",
       .type = KeyType::Int,
       .default_text = "16",
       .min = 1,
       .max = 1024,
       .doc = "Keep-alive connections to the endpoint, and so requests in flight at once.",
       .bind = http_field([](auto& h) -> auto& { return h.max_connections; })});
  add({.path = "routes[].http.pipeline_depth",
       .type = KeyType::Int,
       .default_text = "1",
       .min = 1,
       .max = 64,
       .doc = "Requests sent on one connection before its first response, once every connection is busy "
              "(HTTP/1.1 pipelining); 1 turns it off. For endpoints that answer pipelined requests in order. "
              "When a request fails, those pipelined behind it are ConnectionLost (they may have been handled), "
              "except behind a response announcing Connection: close, where they are sent again.",
       .bind = http_field([](auto& h) -> auto& { return h.pipeline_depth; })});
  add({.path = "routes[].http.concurrency",
       .type = KeyType::String,
       .default_text = "adaptive",
       .doc = "Requests in flight at once: adaptive starts at max_connections × pipeline_depth, drops to 1 when "
              "the breaker closes after an outage and doubles every round trip from there (slow start), halves on "
              "429, 503 or a timeout and then grows by one a round trip, never above max_connections × "
              "pipeline_depth; a number N keeps it at N (at most max_connections × pipeline_depth).",
       .bind = http_field([](auto& h) -> auto& { return h.concurrency; })});
  add({.path = "routes[].http.batch",
       .type = KeyType::Object,
       .flags = {.optional_object = true},
       .doc = "Send the route's records in batches, several in one request (a JSON array or NDJSON of their "
              "values); absent: one request per record. A batch refused as bad data is split in halves and sent "
              "again until only the refused records are left."});
  add({.path = "routes[].http.batch.max_records",
       .type = KeyType::Int,
       .default_text = "100",
       .min = 1,
       .max = 10'000,
       .doc = "Records in one request, at most; a batch this full goes at once.",
       .bind = http_batch_field([](auto& b) -> auto& { return b.max_records; })});
  add({.path = "routes[].http.batch.max_bytes",
       .type = KeyType::Int,
       .default_text = "1048576",
       .min = 1024,
       .max = 1'073'741'824,
       .doc = "Bytes of record values in one request, at most (a record larger than this goes alone); a batch "
              "this full goes at once.",
       .bind = http_batch_field([](auto& b) -> auto& { return b.max_bytes; })});
  add({.path = "routes[].http.batch.linger",
       .type = KeyType::Duration,
       .default_text = "5ms",
       .min = 0,
       .max = ms(10s),
       .doc = "How long a batch that is not full waits for more records after its first one.",
       .bind = http_batch_field([](auto& b) -> auto& { return b.linger; })});
  add({.path = "routes[].http.batch.format",
       .type = KeyType::Enum,
       .default_text = "array",
       .allowed = {"array", "ndjson"},
       .doc = "array: a JSON array of the record values (Content-Type: application/json); ndjson: one value per "
              "line (application/x-ndjson).",
       .bind = http_batch_field([](auto& b) -> auto& { return b.format; })});
  add({.path = "routes[].http.headers",
       .type = KeyType::StringMap,
       .default_text = "{}",
       .flags = {.sensitive = true},
       .doc = "Headers sent with every request, e.g. Authorization: \"Bearer ${APP_TOKEN}\"; never logged.",
       .bind = http_field([](auto& h) -> auto& { return h.headers; })});
  add({.path = "routes[].http.forward_headers",
       .type = KeyType::StringList,
       .default_text = "[]",
       .doc = "Record headers sent as request headers besides traceparent, tracestate and baggage (always "
              "sent): exact names (case-sensitive, as in Kafka) or prefix* for every header starting with prefix; "
              "sluice-* and headers sluice sets itself cannot be named.",
       .bind = http_field([](auto& h) -> auto& { return h.forward_headers; })});
  add({.path = "routes[].http.tls",
       .type = KeyType::Object,
       .doc = "Certificate checks for https:// endpoints."});
  add({.path = "routes[].http.tls.ca_file",
       .type = KeyType::String,
       .default_text = "\"\"",
       .flags = {.path = true},
       .doc = "PEM file of CA certificates trusted besides the system ones; \"\" for the system ones only.",
       .bind = http_field([](auto& h) -> auto& { return h.ca_file; })});
  add({.path = "routes[].http.tls.verify",
       .type = KeyType::Bool,
       .default_text = "true",
       .doc = "Verify the server certificate and host name; false is logged as a warning at every start.",
       .bind = http_field([](auto& h) -> auto& { return h.verify; })});
  add({.path = "routes[].ordering",
       .type = KeyType::Enum,
       .default_text = "partition",
       .allowed = spellings(kOrderings),
       .doc = "partition: one record of an input partition at a time, in order; key: in order per key; "
              "none: up to max_connections (times pipeline_depth) at once.",
       .bind = enum_route_field(kOrderings, [](auto& r) -> auto& { return r.ordering; })});
  add({.path = "routes[].rate_limit",
       .type = KeyType::Object,
       .flags = {.optional_object = true},
       .doc = "At most this many records a second to the route's destination (a token bucket); when records "
              "wait for it, the partitions feeding them are paused. Absent: no limit."});
  add({.path = "routes[].rate_limit.records_per_second",
       .type = KeyType::Int,
       .min = 1,
       .max = 1'000'000,
       .flags = {.required = true},
       .doc = "Records sent a second, on average.",
       .bind = rate_limit_field([](auto& l) -> auto& { return l.records_per_second; })});
  add({.path = "routes[].rate_limit.burst",
       .type = KeyType::Int,
       .min = 1,
       .max = 1'000'000,
       .doc = "Records that may go at once after a quiet spell (the bucket's size); left out: records_per_second.",
       .bind = rate_limit_field([](auto& l) -> auto& { return l.burst; })});

  add({.path = "routes[].errors",
       .type = KeyType::StringMap,
       .doc = "Overrides of the error table for this route: a librdkafka error name (topic routes, e.g. "
              "TOPIC_AUTHORIZATION_FAILED) or an HTTP status or class (http routes, e.g. 404, 4xx) to bad_data "
              "(DLQ at once) or transient (retry tiers).",
       .bind = route_field([](auto& r) -> auto& { return r.errors; })});
}

}  // namespace sluice::config::bindings
