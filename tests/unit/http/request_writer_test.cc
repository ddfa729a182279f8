#include <string>

#include <catch2/catch.hpp>

#include "http/request_writer.h"
#include "http/url.h"

namespace sluice::http {
namespace {

RequestWriter writer_for(const ClientSettings& settings) {
  std::string error;
  std::optional<Endpoint> endpoint = parse_url(settings.url, error);
  REQUIRE(endpoint);
  std::optional<RequestWriter> writer = RequestWriter::create(settings, *endpoint, error);
  INFO(error);
  REQUIRE(writer);
  return *writer;
}

std::string create_error(const ClientSettings& settings) {
  std::string error;
  std::optional<Endpoint> endpoint = parse_url(settings.url, error);
  REQUIRE(endpoint);
  REQUIRE_FALSE(RequestWriter::create(settings, *endpoint, error).has_value());
  return error;
}

TEST_CASE("a request is written with the client's and the request's headers", "[http][request_writer]") {
  ClientSettings settings;
  settings.url = "http://app:8080/in?x=1";
  settings.headers = {{"Authorization", "Bearer t0ken"}, {"X-Route", "a"}};
  const RequestWriter writer = writer_for(settings);
  Request request;
  request.body = R"({"id":7})";
  request.headers = {{"Idempotency-Key", "abc"}};
  REQUIRE(writer.check(request).empty());
  std::string out = "left over from the last request";
  writer.write(request, out);
  CHECK(out ==
        "POST /in?x=1 HTTP/1.1\r\n"
        "Host: app:8080\r\n"
        "User-Agent: sluice\r\n"
        "Authorization: Bearer t0ken\r\n"
        "X-Route: a\r\n"
        "Idempotency-Key: abc\r\n"
        "Content-Type: application/json\r\n"
        "Content-Length: 8\r\n"
        "\r\n"
        R"({"id":7})");
}

TEST_CASE("Content-Type, Host and User-Agent can be overridden", "[http][request_writer]") {
  ClientSettings settings;
  settings.url = "http://10.0.0.1/";
  settings.method = "PUT";
  settings.headers = {{"host", "app.internal"}, {"user-agent", "custom"}};
  const RequestWriter writer = writer_for(settings);
  Request request;
  request.headers = {{"content-type", "application/x-ndjson"}};
  std::string out;
  writer.write(request, out);
  CHECK(out ==
        "PUT / HTTP/1.1\r\n"
        "host: app.internal\r\n"
        "user-agent: custom\r\n"
        "content-type: application/x-ndjson\r\n"
        "Content-Length: 0\r\n"
        "\r\n");

  settings.headers = {{"Content-Type", "text/plain"}};
  settings.user_agent = "";
  std::string without_agent;
  writer_for(settings).write(Request{}, without_agent);
  CHECK(without_agent == "PUT / HTTP/1.1\r\nHost: 10.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n\r\n");
}

TEST_CASE("methods and client headers that cannot be sent are refused", "[http][request_writer]") {
  ClientSettings settings;
  settings.url = "http://app/";
  settings.method = "PO ST";
  CHECK_THAT(create_error(settings), Catch::Contains("method"));
  settings.method = "";
  CHECK_THAT(create_error(settings), Catch::Contains("method"));
  settings.method = "POST";
  settings.headers = {{"Bad Name", "x"}};
  CHECK_THAT(create_error(settings), Catch::Contains("not a valid token"));
  settings.headers = {{"Authorization", "Bearer secret\r\nX-Injected: 1"}};
  const std::string error = create_error(settings);
  CHECK_THAT(error, Catch::Contains("control character"));
  CHECK_THAT(error, !Catch::Contains("secret"));
  settings.headers = {{"Content-Length", "5"}};
  CHECK_THAT(create_error(settings), Catch::Contains("set by the client"));
  settings.headers = {{"Transfer-Encoding", "chunked"}};
  CHECK_THAT(create_error(settings), Catch::Contains("set by the client"));
  settings.headers = {{"Connection", "close"}};
  CHECK_THAT(create_error(settings), Catch::Contains("set by the client"));
}

TEST_CASE("a request header that cannot be sent is found by check", "[http][request_writer]") {
  ClientSettings settings;
  settings.url = "http://app/";
  const RequestWriter writer = writer_for(settings);
  Request request;
  request.headers = {{"Idempotency-Key", "a\nb"}};
  CHECK_THAT(writer.check(request), Catch::Contains("control character"));
  request.headers = {{"X-Ok", "tab\tis fine"}, {"Content-Length", "1"}};
  CHECK_THAT(writer.check(request), Catch::Contains("set by the client"));
  request.headers = {{"Host", "other"}};
  CHECK_THAT(writer.check(request), Catch::Contains("Host"));
  request.headers = {{"X-Ok", "tab\tis fine"}};
  CHECK(writer.check(request).empty());
}

TEST_CASE("tokens and field values", "[http][request_writer]") {
  CHECK(is_token("X-Custom_Header.1~"));
  CHECK_FALSE(is_token(""));
  CHECK_FALSE(is_token("a:b"));
  CHECK_FALSE(is_token("a b"));
  CHECK(is_field_value(""));
  CHECK(is_field_value("any \t text \xc3\xa9"));
  CHECK_FALSE(is_field_value(std::string("nul\0", 4)));
  CHECK_FALSE(is_field_value("del\x7f"));
  CHECK_FALSE(is_field_value("cr\r"));
}

}  // namespace
}  // namespace sluice::http
