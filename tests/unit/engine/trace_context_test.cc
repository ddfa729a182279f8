// The trace id of a record's traceparent, for sluice's log lines about the record.

#include "engine/trace_context.h"

#include <catch2/catch.hpp>

#include <string>

using namespace sluice;
using namespace sluice::engine;

TEST_CASE("trace context: the trace-id of a valid traceparent", "[engine][trace]") {
  CHECK(trace_id_of("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01") == "4bf92f3577b34da6a3ce929d0e0e4736");
  CHECK(trace_id_of("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00") == "4bf92f3577b34da6a3ce929d0e0e4736");
  // A later version may carry more fields after the flags.
  CHECK(trace_id_of("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra") ==
        "4bf92f3577b34da6a3ce929d0e0e4736");
  CHECK(trace_id_of("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01") == "4bf92f3577b34da6a3ce929d0e0e4736");
}

TEST_CASE("trace context: anything else has no trace-id", "[engine][trace]") {
  CHECK(trace_id_of("").empty());
  CHECK(trace_id_of("00-abc").empty());
  CHECK(trace_id_of("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01").empty());  // uppercase
  CHECK(trace_id_of("00-00000000000000000000000000000000-00f067aa0ba902b7-01").empty());  // zero trace-id
  CHECK(trace_id_of("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01").empty());  // zero parent-id
  CHECK(trace_id_of("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").empty());  // forbidden version
  CHECK(trace_id_of("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra").empty());  // 00 has 4 fields
  CHECK(trace_id_of("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x").empty());
  CHECK(trace_id_of("00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").empty());
  CHECK(trace_id_of("00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01").empty());
  CHECK(trace_id_of("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0z").empty());
  CHECK(trace_id_of(" 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").empty());
}

TEST_CASE("trace context: a record's trace id comes from its last traceparent", "[engine][trace]") {
  kafka::Message::Fields fields;
  fields.topic = "inbound.email";
  fields.value = "{}";
  fields.headers = {{"traceparent", "00-11111111111111111111111111111111-2222222222222222-01"},
                    {"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}};
  CHECK(record_trace_id(kafka::Message::build(std::move(fields))) == "4bf92f3577b34da6a3ce929d0e0e4736");

  kafka::Message::Fields untraced;
  untraced.topic = "inbound.email";
  untraced.value = "{}";
  untraced.headers = {{"tracestate", "congo=t61rcWkgMzE"}};
  CHECK(record_trace_id(kafka::Message::build(std::move(untraced))).empty());
  CHECK(record_trace_id(kafka::Message()).empty());
}
