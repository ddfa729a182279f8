// HTTP routes end to end: sluice consuming from the dev broker and POSTing to the project's
// own test HTTP server on 127.0.0.1, which can be told to answer a status, delay, drop the
// connection, send Retry-After, or go away entirely.

#include <catch2/catch.hpp>

#include <rapidjson/document.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <set>

#include "devtools/kafka_tools.h"
#include "devtools/message_mix.h"
#include "support/dev_broker.h"
#include "support/http_test_server.h"
#include "support/process.h"
#include "support/sha256.h"
#include "support/sluice_daemon.h"
#include "support/test_certificates.h"
#include "support/wait.h"

using namespace sluice::test;
using namespace sluice::devtools;
using namespace std::chrono_literals;

namespace {

const std::vector<TopicSpec> kTopics = {{"inbound.email", 1}, {"inbound.whatsapp", 3}, {"clean.email", 1},
                                        {"dlq", 1},           {"retry.1s", 2}};

TestConfig http_config(const DevBroker& broker, const std::string& group, const std::string& url,
                       const std::string& http_extra = "", const std::string& breaker = "  failure_threshold: 3\n"
                                                                                       "  open_timeout: 1s\n"
                                                                                       "  success_threshold: 1\n") {
  TestConfig config;
  config.bootstrap = broker.bootstrap();
  config.group_id = group;
  config.routes_yaml = "  - match: {channel: email}\n    topic: clean.email\n"
                       "  - match: {channel: whatsapp}\n    http:\n      url: " + url + "\n      timeout: 2s\n" +
                       http_extra;
  config.extra_yaml = "retry:\n  tiers: [1s]\ncircuit_breaker:\n" + breaker;
  return config;
}

std::vector<KafkaRecord> whatsapp_records(int count, const std::string& prefix = "w") {
  std::vector<KafkaRecord> records;
  for (int i = 0; i < count; ++i) {
    KafkaRecord record;
    record.topic = "inbound.whatsapp";
    record.key = prefix + "-key-" + std::to_string(i % 7);
    record.value = whatsapp_event("+1555300" + std::to_string(1000 + i), prefix + " message " + std::to_string(i),
                                  prefix + "-c-" + std::to_string(i));
    records.push_back(record);
  }
  return records;
}

void produce(const std::string& bootstrap, const std::vector<KafkaRecord>& records) {
  RecordProducer producer(bootstrap);
  for (const KafkaRecord& record : records) producer.produce(record);
  producer.flush();
}

// Every body of `records` the server answered with 2xx, counted; the handler records them.
struct Delivered {
  std::mutex mutex;
  std::map<std::string, int> count;
  void add(const std::string& body) {
    std::lock_guard<std::mutex> lock(mutex);
    count[body] += 1;
  }
  size_t distinct() {
    std::lock_guard<std::mutex> lock(mutex);
    return count.size();
  }
  std::map<std::string, int> snapshot() {
    std::lock_guard<std::mutex> lock(mutex);
    return count;
  }
};

// Produces `records`, starts the daemon, waits until the server has had as many requests and
// the group has committed everything, and stops the daemon cleanly.
void deliver_all(SluiceDaemon& daemon, const DevBroker& broker, const HttpTestServer& server, const std::string& group,
                 const std::vector<KafkaRecord>& records) {
  produce(broker.bootstrap(), records);
  daemon.start();
  bool all = wait_until([&] { return server.request_count() >= records.size(); }, 60s, 50ms);
  INFO(daemon.logs());
  REQUIRE(all);
  REQUIRE(wait_until([&] { return group_caught_up(broker.bootstrap(), group, {"inbound.whatsapp"}); }, 30s, 100ms));
  REQUIRE(daemon.stop() == 0);
}

// Each record's value arrived exactly once, and the requests of each input partition arrived
// in offset order (X-Sluice-Source: topic/partition/offset).
void check_once_in_partition_order(const std::vector<ReceivedRequest>& requests, const std::vector<KafkaRecord>& records) {
  CHECK(requests.size() == records.size());
  std::map<std::string, int> per_body;
  std::map<std::string, int64_t> last_offset;  // per topic/partition, in arrival order
  for (const ReceivedRequest& request : requests) {
    per_body[request.body] += 1;
    const std::string source = request.headers.at("x-sluice-source");
    const size_t slash = source.rfind('/');
    const std::string partition = source.substr(0, slash);
    const int64_t offset = std::stoll(source.substr(slash + 1));
    CHECK(partition.rfind("inbound.whatsapp/", 0) == 0);
    if (last_offset.count(partition) != 0) CHECK(offset > last_offset[partition]);
    last_offset[partition] = offset;
  }
  for (const KafkaRecord& record : records) CHECK(per_body[*record.value] == 1);
}

}  // namespace

TEST_CASE("http route: each message reaches the server once, in partition order, with idempotency key and source",
          "[integration][http]") {
  DevBroker broker(kTopics);
  HttpTestServer server;
  TempDir dir;
  SluiceDaemon daemon(http_config(broker, "http-basic", server.url()), dir);
  auto records = whatsapp_records(300);
  deliver_all(daemon, broker, server, "http-basic", records);

  std::vector<ReceivedRequest> requests = server.requests();
  check_once_in_partition_order(requests, records);
  for (const ReceivedRequest& request : requests) {
    CHECK(request.method == "POST");
    CHECK(request.target == "/messages");
    CHECK(request.headers.at("content-type") == "application/json");
    CHECK(request.headers.at("idempotency-key").size() == 64);
  }
  // The idempotency key is the dedup fingerprint of the body.
  std::string fingerprint;
  REQUIRE(run_command({SLUICE_BIN, "fingerprint"}, &fingerprint, 10s, requests[0].body) == 0);
  CHECK(requests[0].headers.at("idempotency-key") + "\n" == fingerprint);
  // Keep-alive: a handful of connections carried every request.
  INFO("connections: " << server.connections_accepted());
  CHECK(server.connections_accepted() <= 16);
  CHECK(server.connections_accepted() < records.size() / 10);
  CHECK(read_topic(broker.bootstrap(), "dlq").empty());
}

TEST_CASE("http route: pipelined over one connection, each message arrives once and in partition order",
          "[integration][http]") {
  DevBroker broker(kTopics);
  HttpTestServer server;
  TempDir dir;
  SluiceDaemon daemon(
      http_config(broker, "http-pipelined", server.url(), "      max_connections: 1\n      pipeline_depth: 4\n"), dir);
  auto records = whatsapp_records(300);
  deliver_all(daemon, broker, server, "http-pipelined", records);

  check_once_in_partition_order(server.requests(), records);
  CHECK(server.connections_accepted() == 1);
  // Three partitions, one request each at a time, on one connection: most go out pipelined.
  const std::string sink = "{sink=\"http:" + server.url() + "\"}";
  const std::string logs = daemon.logs();
  CHECK(final_counter(logs, "sluice_http_connections_opened_total" + sink) == 1);
  CHECK(final_counter(logs, "sluice_http_requests_pipelined_total" + sink) > 0);
  CHECK(read_topic(broker.bootstrap(), "dlq").empty());
}

TEST_CASE("http route: 503s then recovery deliver everything, none to the DLQ", "[integration][http]") {
  DevBroker broker(kTopics);
  HttpTestServer server;
  Delivered delivered;
  std::atomic<int> failures_left{12};
  server.set_handler([&](const ReceivedRequest& request) {
    HttpTestResponse response;
    if (failures_left.fetch_sub(1) > 0) {
      response.status = 503;
      response.body = "busy";
    } else {
      delivered.add(request.body);
    }
    return response;
  });
  TempDir dir;
  SluiceDaemon daemon(http_config(broker, "http-503", server.url()), dir);
  auto records = whatsapp_records(60);
  produce(broker.bootstrap(), records);
  daemon.start();
  bool all = wait_until([&] { return delivered.distinct() == records.size(); }, 90s, 100ms);
  INFO(daemon.logs());
  REQUIRE(all);
  REQUIRE(wait_until([&] { return group_caught_up(broker.bootstrap(), "http-503", {"inbound.whatsapp"}); }, 30s, 100ms));
  REQUIRE(daemon.stop() == 0);
  CHECK(read_topic(broker.bootstrap(), "dlq").empty());
}

TEST_CASE("http route: 400 goes to the DLQ with the status and the start of the body", "[integration][http]") {
  DevBroker broker(kTopics);
  HttpTestServer server;
  server.set_handler([&](const ReceivedRequest& request) {
    HttpTestResponse response;
    if (request.body.find("reject me") != std::string::npos) {
      response.status = 400;
      response.body = "{\"error\":\"sender unknown\"}" + std::string(3000, '.');
    }
    return response;
  });
  TempDir dir;
  SluiceDaemon daemon(http_config(broker, "http-400", server.url()), dir);
  KafkaRecord bad;
  bad.topic = "inbound.whatsapp";
  bad.key = "bad";
  bad.value = whatsapp_event("+15554440001", "reject me", "c-bad");
  KafkaRecord good;
  good.topic = "inbound.whatsapp";
  good.key = "good";
  good.value = whatsapp_event("+15554440002", "accept me", "c-good");
  produce(broker.bootstrap(), {bad, good});
  daemon.start();
  REQUIRE(wait_until([&] { return read_topic(broker.bootstrap(), "dlq").size() == 1; }, 60s, 50ms));
  REQUIRE(wait_until([&] { return server.request_count() == 2; }, 30s, 50ms));
  REQUIRE(daemon.stop() == 0);
  auto dlq = read_topic(broker.bootstrap(), "dlq");
  CHECK(dlq[0].key == "bad");
  CHECK(dlq[0].header("sluice-error") == "forward_rejected");
  rapidjson::Document envelope;
  envelope.Parse(dlq[0].value->c_str());
  REQUIRE_FALSE(envelope.HasParseError());
  CHECK(envelope["http_status"].GetInt() == 400);
  std::string excerpt = envelope["response_body"].GetString();
  CHECK(excerpt.rfind("{\"error\":\"sender unknown\"}", 0) == 0);
  CHECK(excerpt.size() == 1024);
  CHECK(std::string(envelope["original_message"].GetString()) == *bad.value);
  CHECK(read_topic(broker.bootstrap(), "retry.1s").empty());
}

TEST_CASE("http route: 429 with Retry-After 2 is not tried again before 2 seconds", "[integration][http]") {
  DevBroker broker(kTopics);
  HttpTestServer server;
  std::atomic<bool> limited{false};
  server.set_handler([&](const ReceivedRequest&) {
    HttpTestResponse response;
    if (!limited.exchange(true)) {
      response.status = 429;
      response.headers = {{"Retry-After", "2"}};
    }
    return response;
  });
  TempDir dir;
  SluiceDaemon daemon(http_config(broker, "http-429", server.url()), dir);
  produce(broker.bootstrap(), whatsapp_records(1, "limited"));
  daemon.start();
  bool twice = wait_until([&] { return server.request_count() == 2; }, 60s, 50ms);
  INFO(daemon.logs());
  REQUIRE(twice);
  REQUIRE(daemon.stop() == 0);
  auto requests = server.requests();
  CHECK(requests[0].body == requests[1].body);
  CHECK(requests[1].received_at - requests[0].received_at >= 2s);
  CHECK(read_topic(broker.bootstrap(), "dlq").empty());
}

TEST_CASE("http route: the endpoint down for 20 s opens the breaker, pauses consumption, and nothing is lost",
          "[integration][http][breaker]") {
  DevBroker broker(kTopics);
  HttpTestServer server;
  Delivered delivered;
  server.set_handler([&](const ReceivedRequest& request) {
    delivered.add(request.body);
    return HttpTestResponse{};
  });
  TempDir dir;
  SluiceDaemon daemon(http_config(broker, "http-down", server.url()), dir);
  auto first = whatsapp_records(100, "before");
  produce(broker.bootstrap(), first);
  daemon.start();
  REQUIRE(wait_until([&] { return delivered.distinct() >= 30; }, 60s, 20ms));

  server.stop();  // the application is gone: connections are refused
  auto outage_start = std::chrono::steady_clock::now();
  auto second = whatsapp_records(100, "during");
  produce(broker.bootstrap(), second);
  bool opened = wait_until([&] { return daemon.logs().find("\"to\":\"open\"") != std::string::npos; }, 30s, 50ms);
  INFO(daemon.logs());
  REQUIRE(opened);
  // While it is down: the committed position stays behind the end (consumption is paused),
  // and nothing is dead-lettered.
  REQUIRE(wait_until([&] { return std::chrono::steady_clock::now() - outage_start >= 20s; }, 30s, 200ms));
  CHECK_FALSE(group_caught_up(broker.bootstrap(), "http-down", {"inbound.whatsapp"}));
  CHECK(read_topic(broker.bootstrap(), "dlq").empty());
  size_t tier_records = read_topic(broker.bootstrap(), "retry.1s").size();
  CHECK(tier_records < 3);  // only failures before the breaker opened went to the tier

  server.start();
  bool recovered = wait_until([&] { return delivered.distinct() == first.size() + second.size(); }, 90s, 100ms);
  REQUIRE(recovered);
  REQUIRE(wait_until([&] { return group_caught_up(broker.bootstrap(), "http-down", {"inbound.whatsapp"}); }, 30s, 100ms));
  REQUIRE(daemon.stop() == 0);
  INFO(daemon.logs());
  CHECK(read_topic(broker.bootstrap(), "dlq").empty());
  CHECK(read_topic(broker.bootstrap(), "retry.1s").size() == tier_records);
  CHECK(daemon.logs().find("\"to\":\"closed\"") != std::string::npos);
}

TEST_CASE("http route: https with a CA given in ca_file delivers, and an untrusted certificate is an outage",
          "[integration][http][tls]") {
  DevBroker broker(kTopics);
  TempDir certs;
  TestCertificates trusted = make_test_certificates(certs.file("trusted"));
  HttpTestServer good_server(HttpTestServer::Tls{trusted.server.cert_file, trusted.server.key_file});
  TempDir dir;
  {
    SluiceDaemon daemon(http_config(broker, "https-trusted", good_server.url(),
                                    "      tls: {ca_file: " + trusted.ca.cert_file + "}\n"),
                        dir, "trusted");
    produce(broker.bootstrap(), whatsapp_records(20, "tls"));
    daemon.start();
    bool delivered = wait_until([&] { return good_server.request_count() == 20; }, 60s, 50ms);
    INFO(daemon.logs());
    REQUIRE(delivered);
    REQUIRE(daemon.stop() == 0);
  }

  DevBroker second_broker(kTopics);
  CertificateFiles untrusted = make_self_signed_certificate(certs.file("untrusted"));
  HttpTestServer bad_server(HttpTestServer::Tls{untrusted.cert_file, untrusted.key_file});
  SluiceDaemon daemon(http_config(second_broker, "https-untrusted", bad_server.url()), dir, "untrusted");
  produce(second_broker.bootstrap(), whatsapp_records(20, "untrusted"));
  daemon.start();
  bool opened = wait_until([&] { return daemon.logs().find("\"to\":\"open\"") != std::string::npos; }, 60s, 50ms);
  INFO(daemon.logs());
  REQUIRE(opened);
  REQUIRE(daemon.stop() == 0);
  CHECK(bad_server.request_count() == 0);  // never delivered over an unverified connection
  CHECK(read_topic(second_broker.bootstrap(), "dlq").empty());
  CHECK(daemon.logs().find("tls_failed") != std::string::npos);
}

namespace {

// "a,b,c" → {a, b, c}.
std::vector<std::string> split_list(const std::string& list) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= list.size()) {
    const size_t comma = std::min(list.find(',', start), list.size());
    out.push_back(list.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

}  // namespace

TEST_CASE("http route: batches; a bad record in the middle of one goes alone to the DLQ", "[integration][http][batch]") {
  DevBroker broker(kTopics);
  HttpTestServer server;
  std::mutex mutex;
  std::vector<std::string> accepted;  // bodies answered 2xx
  server.set_handler([&](const ReceivedRequest& request) {
    HttpTestResponse response;
    if (request.body.find("reject me") != std::string::npos) {
      response.status = 422;
      response.body = "{\"error\":\"one of them is bad\"}";
    } else {
      std::lock_guard<std::mutex> lock(mutex);
      accepted.push_back(request.body);
    }
    return response;
  });
  TempDir dir;
  SluiceDaemon daemon(http_config(broker, "http-batch", server.url(), "      batch: {max_records: 20, linger: 50ms}\n"),
                      dir);
  auto records = whatsapp_records(60);
  KafkaRecord bad;
  bad.topic = "inbound.whatsapp";
  bad.key = "w-key-3";  // the partition of its neighbours
  bad.value = whatsapp_event("+15554440001", "reject me", "c-bad");
  records.insert(records.begin() + 30, bad);
  produce(broker.bootstrap(), records);
  daemon.start();
  REQUIRE(wait_until([&] { return read_topic(broker.bootstrap(), "dlq").size() == 1; }, 60s, 50ms));
  bool caught_up = wait_until([&] { return group_caught_up(broker.bootstrap(), "http-batch", {"inbound.whatsapp"}); }, 30s, 100ms);
  INFO(daemon.logs());
  REQUIRE(caught_up);
  REQUIRE(daemon.stop() == 0);

  auto dlq = read_topic(broker.bootstrap(), "dlq");
  REQUIRE(dlq.size() == 1);
  CHECK(dlq[0].key == "w-key-3");
  CHECK(dlq[0].header("sluice-error") == "forward_rejected");
  rapidjson::Document envelope;
  envelope.Parse(dlq[0].value->c_str());
  REQUIRE_FALSE(envelope.HasParseError());
  CHECK(envelope["http_status"].GetInt() == 422);
  CHECK(std::string(envelope["original_message"].GetString()) == *bad.value);
  CHECK(read_topic(broker.bootstrap(), "retry.1s").empty());

  // Every other record was accepted exactly once, in a JSON array with its neighbours.
  std::map<std::string, int> per_value;
  for (const std::string& body : accepted) {
    rapidjson::Document array;
    array.Parse(body.c_str());
    REQUIRE(array.IsArray());
    for (const auto& value : array.GetArray()) {
      CHECK(value.IsObject());
      const std::string channel = value["channel"].GetString();
      CHECK(channel == "whatsapp");
    }
  }
  for (const KafkaRecord& record : records) {
    if (record.value == bad.value) continue;
    int seen = 0;
    for (const std::string& body : accepted) seen += body.find(*record.value) != std::string::npos ? 1 : 0;
    CHECK(seen == 1);
  }
  // Requests list their records' sources and fingerprints in body order; a partition's
  // records arrive in offset order across the accepted requests; most requests held several.
  std::map<std::string, int64_t> last_offset;
  size_t several = 0;
  for (const ReceivedRequest& request : server.requests()) {
    CHECK(request.headers.at("content-type") == "application/json");
    const std::vector<std::string> sources = split_list(request.headers.at("x-sluice-sources"));
    CHECK(split_list(request.headers.at("x-sluice-fingerprints")).size() == sources.size());
    CHECK(request.headers.at("idempotency-key").size() == 64);
    several += sources.size() > 1 ? 1 : 0;
    if (request.body.find("reject me") != std::string::npos) continue;
    for (const std::string& source : sources) {
      const size_t slash = source.rfind('/');
      const std::string partition = source.substr(0, slash);
      const int64_t offset = std::stoll(source.substr(slash + 1));
      if (last_offset.count(partition) != 0) CHECK(offset > last_offset[partition]);
      last_offset[partition] = offset;
    }
  }
  CHECK(several > 0);
  const std::string sink = "{sink=\"http:" + server.url() + "\"}";
  CHECK(final_counter(daemon.logs(), "sluice_http_batches_split_total" + sink) >= 1);
}

TEST_CASE("http route: a batch sent again after a 503 carries the same Idempotency-Key", "[integration][http][batch]") {
  DevBroker broker(kTopics);
  HttpTestServer server;
  std::atomic<int> failures_left{1};
  server.set_handler([&](const ReceivedRequest&) {
    HttpTestResponse response;
    if (failures_left.fetch_sub(1) > 0) response.status = 503;
    return response;
  });
  TempDir dir;
  // The 503 opens the breaker: the batch waits and goes again, as it was, after a second.
  SluiceDaemon daemon(http_config(broker, "http-batch-503", server.url(),
                                  "      batch: {max_records: 5, linger: 5s, format: ndjson}\n",
                                  "  failure_threshold: 1\n  open_timeout: 1s\n  success_threshold: 1\n"),
                      dir);
  auto records = whatsapp_records(5);
  produce(broker.bootstrap(), records);
  daemon.start();
  bool caught_up =
      wait_until([&] { return group_caught_up(broker.bootstrap(), "http-batch-503", {"inbound.whatsapp"}); }, 60s, 100ms);
  INFO(daemon.logs());
  REQUIRE(caught_up);
  REQUIRE(daemon.stop() == 0);

  std::vector<ReceivedRequest> requests = server.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].headers.at("content-type") == "application/x-ndjson");
  CHECK(requests[1].body == requests[0].body);
  CHECK(requests[1].headers.at("x-sluice-sources") == requests[0].headers.at("x-sluice-sources"));
  CHECK(requests[1].headers.at("idempotency-key") == requests[0].headers.at("idempotency-key"));
  // The key is SHA-256 of the records' fingerprints in order; each is `sluice fingerprint`'s.
  const std::vector<std::string> fingerprints = split_list(requests[0].headers.at("x-sluice-fingerprints"));
  REQUIRE(fingerprints.size() == records.size());
  std::string bytes;
  for (const std::string& hex : fingerprints) {
    for (size_t i = 0; i + 1 < hex.size(); i += 2) bytes.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  CHECK(requests[0].headers.at("idempotency-key") == sha256_hex(bytes));
  std::string first_line = requests[0].body.substr(0, requests[0].body.find('\n'));
  std::string fingerprint;
  REQUIRE(run_command({SLUICE_BIN, "fingerprint"}, &fingerprint, 10s, first_line) == 0);
  CHECK(fingerprints[0] + "\n" == fingerprint);
  CHECK(read_topic(broker.bootstrap(), "dlq").empty());
  CHECK(read_topic(broker.bootstrap(), "retry.1s").empty());
}
