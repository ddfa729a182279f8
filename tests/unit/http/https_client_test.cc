#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "http/http_client.h"
#include "support/http_test_server.h"
#include "support/temp_dir.h"
#include "support/test_certificates.h"
#include "unit/http/http_test_helpers.h"

namespace sluice::http {
namespace {

using namespace std::chrono_literals;
using test::HttpTestServer;
using test::ReceivedRequest;
using testing::answer;
using testing::closed_after;
using testing::Completions;
using testing::delayed;
using testing::dropped;
using testing::exchange;
using testing::make_client;
using testing::request;
using testing::settings_for;
using Outcome = Response::Outcome;

// Made once per test run: key generation is the slow part of these tests.
struct Certificates {
  test::TempDir dir;
  test::TestCertificates signed_by_ca = test::make_test_certificates(dir.path());
  test::CertificateFiles self_signed = test::make_self_signed_certificate(dir.path());
};

const Certificates& certificates() {
  static const Certificates made;
  return made;
}

HttpTestServer::Tls tls_of(const test::CertificateFiles& files) { return {files.cert_file, files.key_file}; }

std::string localhost_url(const HttpTestServer& server) {
  return "https://localhost:" + std::to_string(server.port()) + "/messages";
}

TEST_CASE("pipelined requests over TLS are written while a response is being read", "[http][tls][pipeline]") {
  HttpTestServer server(tls_of(certificates().signed_by_ca.server));
  server.set_handler([](const ReceivedRequest& received) { return answer(200, received.body); });
  HttpRuntime runtime;
  Completions completions;
  ClientSettings settings = settings_for(server.url());
  settings.ca_file = certificates().signed_by_ca.ca.cert_file;
  settings.max_connections = 1;
  settings.pipeline_depth = 4;
  auto client = make_client(runtime.io(), settings, completions);
  std::vector<Request> batch;
  for (uint64_t token = 1; token <= 20; ++token) batch.push_back(request(token, "body-" + std::to_string(token)));
  client->submit(batch);
  REQUIRE(completions.wait_for(20));
  for (const Response& response : completions.all()) {
    INFO(response.error);
    CHECK(response.status == 200);
    CHECK(response.body_excerpt == "body-" + std::to_string(response.token));
  }
  CHECK(server.connections_accepted() == 1);
  // The first write carries one request; the three that queued meanwhile go in the second.
  CHECK(client->stats().requests_pipelined >= 3);
}

TEST_CASE("https with the CA as ca_file succeeds, by address and by name", "[http][tls]") {
  HttpTestServer server(tls_of(certificates().signed_by_ca.server));
  HttpRuntime runtime;
  Completions completions;

  ClientSettings by_address = settings_for(server.url());
  by_address.ca_file = certificates().signed_by_ca.ca.cert_file;
  auto client = make_client(runtime.io(), by_address, completions);
  const Response response = exchange(*client, completions, request(1, R"({"secure":true})"));
  INFO(response.error);
  CHECK(response.outcome == Outcome::Status);
  CHECK(response.status == 200);
  CHECK(response.body_excerpt == "ok");
  CHECK(exchange(*client, completions, request(2)).status == 200);
  CHECK(server.connections_accepted() == 1);  // kept alive over TLS too

  ClientSettings by_name = by_address;
  by_name.url = localhost_url(server);
  auto named = make_client(runtime.io(), by_name, completions);
  const Response named_response = exchange(*named, completions, request(3));
  INFO(named_response.error);
  CHECK(named_response.status == 200);

  const std::vector<ReceivedRequest> received = server.requests();
  REQUIRE(received.size() == 3);
  CHECK(received[0].body == R"({"secure":true})");
  CHECK(received[0].tls_server_name.empty());  // no SNI for an address
  CHECK(received[2].tls_server_name == "localhost");
}

TEST_CASE("https without the CA is TlsFailed: the system store does not know it", "[http][tls]") {
  HttpTestServer server(tls_of(certificates().signed_by_ca.server));
  HttpRuntime runtime;
  Completions completions;
  auto client = make_client(runtime.io(), settings_for(server.url()), completions);
  const Response response = exchange(*client, completions, request(1));
  CHECK(response.outcome == Outcome::TlsFailed);
  CHECK_THAT(response.error, Catch::Contains("certificate"));
  CHECK(server.request_count() == 0);
}

TEST_CASE("an untrusted self-signed certificate is TlsFailed", "[http][tls]") {
  HttpTestServer server(tls_of(certificates().self_signed));
  HttpRuntime runtime;
  Completions completions;
  ClientSettings settings = settings_for(server.url());
  // A CA file that does not vouch for this certificate changes nothing.
  settings.ca_file = certificates().signed_by_ca.ca.cert_file;
  auto client = make_client(runtime.io(), settings, completions);
  for (uint64_t token = 1; token <= 3; ++token) {
    const Response response = exchange(*client, completions, request(token));
    CHECK(response.outcome == Outcome::TlsFailed);
    CHECK_THAT(response.error, Catch::Contains("self-signed"));
  }
  CHECK(server.request_count() == 0);
}

TEST_CASE("a certificate for another host name is TlsFailed", "[http][tls]") {
  HttpTestServer server(tls_of(certificates().signed_by_ca.wrong_host));
  HttpRuntime runtime;
  Completions completions;
  ClientSettings settings = settings_for(server.url());
  settings.ca_file = certificates().signed_by_ca.ca.cert_file;

  auto by_address = make_client(runtime.io(), settings, completions);
  const Response address_response = exchange(*by_address, completions, request(1));
  CHECK(address_response.outcome == Outcome::TlsFailed);
  CHECK_THAT(address_response.error, Catch::Contains("mismatch"));

  settings.url = localhost_url(server);
  auto by_name = make_client(runtime.io(), settings, completions);
  const Response name_response = exchange(*by_name, completions, request(2));
  CHECK(name_response.outcome == Outcome::TlsFailed);
  CHECK_THAT(name_response.error, Catch::Contains("mismatch"));
  CHECK(server.request_count() == 0);
}

TEST_CASE("verify: false accepts any certificate, only when asked", "[http][tls]") {
  HttpTestServer server(tls_of(certificates().self_signed));
  HttpRuntime runtime;
  Completions completions;
  ClientSettings settings = settings_for(server.url());
  settings.verify = false;
  auto client = make_client(runtime.io(), settings, completions);
  const Response response = exchange(*client, completions, request(1));
  INFO(response.error);
  CHECK(response.status == 200);
}

TEST_CASE("a TLS connection closed by the server while idle is replaced", "[http][tls][resend]") {
  HttpTestServer server(tls_of(certificates().signed_by_ca.server));
  server.set_handler([](const ReceivedRequest&) { return closed_after(); });
  HttpRuntime runtime;
  Completions completions;
  ClientSettings settings = settings_for(server.url());
  settings.ca_file = certificates().signed_by_ca.ca.cert_file;
  auto client = make_client(runtime.io(), settings, completions);
  for (uint64_t token = 1; token <= 3; ++token) {
    const Response response = exchange(*client, completions, request(token));
    INFO(response.error);
    CHECK(response.status == 200);
  }
  CHECK(client->stats().requests_resent == 2);
  CHECK(server.request_count() == 3);
}

TEST_CASE("a plain http server behind an https url is TlsFailed", "[http][tls]") {
  HttpTestServer server;
  HttpRuntime runtime;
  Completions completions;
  ClientSettings settings = settings_for("https://127.0.0.1:" + std::to_string(server.port()) + "/");
  auto client = make_client(runtime.io(), settings, completions);
  CHECK(exchange(*client, completions, request(1)).outcome == Outcome::TlsFailed);
}

}  // namespace
}  // namespace sluice::http
