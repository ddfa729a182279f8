#include <string>

#include <catch2/catch.hpp>

#include "http/url.h"

namespace sluice::http {
namespace {

Endpoint parse_ok(const std::string& url) {
  std::string error;
  std::optional<Endpoint> endpoint = parse_url(url, error);
  INFO(url << ": " << error);
  REQUIRE(endpoint.has_value());
  return *endpoint;
}

std::string parse_error(const std::string& url) {
  std::string error;
  INFO(url);
  REQUIRE_FALSE(parse_url(url, error).has_value());
  return error;
}

TEST_CASE("an http url gives host, default port and target", "[http][url]") {
  const Endpoint endpoint = parse_ok("http://App.Local/messages?tenant=a&x=1");
  CHECK_FALSE(endpoint.tls);
  CHECK(endpoint.host == "app.local");
  CHECK(endpoint.port == 80);
  CHECK(endpoint.target == "/messages?tenant=a&x=1");
  CHECK(endpoint.host_header == "app.local");
  CHECK(endpoint.origin == "http://app.local:80");
  CHECK_FALSE(endpoint.host_is_ip);
}

TEST_CASE("an https url with a port keeps the port in the Host header", "[http][url]") {
  const Endpoint endpoint = parse_ok("HTTPS://127.0.0.1:8443");
  CHECK(endpoint.tls);
  CHECK(endpoint.host == "127.0.0.1");
  CHECK(endpoint.port == 8443);
  CHECK(endpoint.target == "/");
  CHECK(endpoint.host_header == "127.0.0.1:8443");
  CHECK(endpoint.host_is_ip);
  CHECK(parse_ok("https://example.com:443/").host_header == "example.com");
}

TEST_CASE("an IPv6 literal is bracketed in the Host header only", "[http][url]") {
  const Endpoint endpoint = parse_ok("http://[::1]:8080/in");
  CHECK(endpoint.host == "::1");
  CHECK(endpoint.port == 8080);
  CHECK(endpoint.host_header == "[::1]:8080");
  CHECK(endpoint.origin == "http://[::1]:8080");
  CHECK(endpoint.host_is_ip);
  CHECK(parse_ok("https://[2001:db8::7]").port == 443);
}

TEST_CASE("a query without a path and a fragment are handled", "[http][url]") {
  CHECK(parse_ok("http://h?a=1").target == "/?a=1");
  CHECK(parse_ok("http://h/p#section").target == "/p");
  CHECK(parse_ok("http://h#x").target == "/");
}

TEST_CASE("unusable urls are rejected with a reason", "[http][url]") {
  CHECK_THAT(parse_error("ftp://h/"), Catch::Contains("scheme"));
  CHECK_THAT(parse_error("h:80/x"), Catch::Contains("scheme"));
  CHECK_THAT(parse_error("http:///x"), Catch::Contains("host is empty"));
  CHECK_THAT(parse_error("http://h:0/"), Catch::Contains("port"));
  CHECK_THAT(parse_error("http://h:65536/"), Catch::Contains("port"));
  CHECK_THAT(parse_error("http://h:/"), Catch::Contains("port"));
  CHECK_THAT(parse_error("http://h:8o/"), Catch::Contains("port"));
  CHECK_THAT(parse_error("http://user:secret@h/"), Catch::Contains("credentials"));
  CHECK_THAT(parse_error("http://h/a b"), Catch::Contains("space"));
  CHECK_THAT(parse_error("http://h/a\r\nX: y"), Catch::Contains("control"));
  CHECK_THAT(parse_error("http://h\xc3\xa9/"), Catch::Contains("non-ASCII"));
  CHECK_THAT(parse_error("http://[::1/"), Catch::Contains("]"));
  CHECK_THAT(parse_error("http://[nope]/"), Catch::Contains("IPv6"));
  CHECK_THAT(parse_error("http://h!x/"), Catch::Contains("host"));
  // The secret never reaches the message.
  CHECK_THAT(parse_error("http://user:secret@h/"), !Catch::Contains("secret"));
}

}  // namespace
}  // namespace sluice::http
