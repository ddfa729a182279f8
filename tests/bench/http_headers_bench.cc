// An HTTP route's per-record header work: one pass over the record's headers choosing the
// trace context and forward_headers, and X-Sluice-Key, appended to the request's header list.

#include <benchmark/benchmark.h>

#include <string>
#include <utility>
#include <vector>

#include "engine/http_forward_headers.h"

namespace sluice::bench {
namespace {

kafka::Message record(std::vector<std::pair<std::string, std::string>> headers) {
  kafka::Message::Fields fields;
  fields.topic = "inbound.whatsapp";
  fields.key = "order-123456";
  fields.value = "{}";
  fields.headers = std::move(headers);
  return kafka::Message::build(std::move(fields));
}

void forward_headers(benchmark::State& state, std::vector<std::pair<std::string, std::string>> headers) {
  config::HttpRouteConfig route;
  route.forward_headers = {"x-tenant", "x-app-*"};
  engine::HttpForwardHeaders selector(route);
  const kafka::Message message = record(std::move(headers));
  http::HeaderList out;
  engine::HeaderDrops drops;
  for (auto _ : state) {
    out.clear();
    out.reserve(7);
    selector.append(message, out, drops);
    benchmark::DoNotOptimize(out.data());
    out = http::HeaderList();  // a request's list is new each time
  }
  state.SetItemsProcessed(state.iterations());
}

void no_headers(benchmark::State& state) { forward_headers(state, {}); }
void traced(benchmark::State& state) {
  forward_headers(state, {{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
                          {"tracestate", "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"},
                          {"baggage", "userId=alice,serverNode=DF28"},
                          {"x-tenant", "acme"},
                          {"content-encoding", "identity"},
                          {"app-version", "4.2.1"}});
}
BENCHMARK(no_headers)->Name("engine/http_forward_headers/key_only");
BENCHMARK(traced)->Name("engine/http_forward_headers/traced_6_headers");

}  // namespace
}  // namespace sluice::bench
