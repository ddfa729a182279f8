#include <string>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <catch2/catch.hpp>

#include "http/response_reader.h"

namespace sluice::http {
namespace {

namespace beast_http = boost::beast::http;

// Feeds `bytes` to the reader as a connection would, in one piece; the error, if any.
boost::beast::error_code feed(ResponseReader& reader, const std::string& bytes, bool eof = false) {
  boost::beast::error_code ec;
  size_t offset = 0;
  while (offset < bytes.size() && !reader.is_done()) {
    const size_t used = reader.put(boost::asio::buffer(bytes.data() + offset, bytes.size() - offset), ec);
    offset += used;
    if (ec == beast_http::error::need_more) ec = {};
    if (ec) return ec;
    if (used == 0) break;  // everything fed so far is consumed; the rest needs more input
  }
  if (eof && !reader.is_done()) reader.put_eof(ec);
  return ec;
}

TEST_CASE("status, body excerpt and Retry-After are kept", "[http][response_reader]") {
  ResponseReader reader(false);
  const std::string body(5000, 'b');
  REQUIRE_FALSE(
      feed(reader, "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 120\r\nContent-Length: 5000\r\n\r\n" + body));
  REQUIRE(reader.is_done());
  CHECK(reader.status() == 503);
  CHECK(reader.body_excerpt() == body.substr(0, kBodyExcerptBytes));
  CHECK(reader.body_bytes() == 5000);
  CHECK(reader.retry_after() == std::optional<std::string>("120"));
  CHECK(reader.keep_alive());
}

TEST_CASE("a chunked body is excerpted like any other", "[http][response_reader]") {
  ResponseReader reader(false);
  REQUIRE_FALSE(
      feed(reader, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"));
  REQUIRE(reader.is_done());
  CHECK(reader.body_excerpt() == "hello world");
  CHECK(reader.retry_after() == std::nullopt);
}

TEST_CASE("a body above the limit stops the reader after the excerpt", "[http][response_reader]") {
  ResponseReader reader(false);
  const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(2 * kMaxBodyBytes) + "\r\n\r\n";
  const std::string body(2 * kMaxBodyBytes, 'z');
  CHECK(feed(reader, head + body) == beast_http::error::body_limit);
  CHECK(reader.is_header_done());
  CHECK(reader.status() == 200);
  CHECK(reader.body_excerpt().size() == kBodyExcerptBytes);
}

TEST_CASE("Connection: close and HTTP/1.0 forbid reuse", "[http][response_reader]") {
  ResponseReader closing(false);
  REQUIRE_FALSE(feed(closing, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"));
  CHECK_FALSE(closing.keep_alive());
  ResponseReader old(false);
  REQUIRE_FALSE(feed(old, "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"));
  CHECK_FALSE(old.keep_alive());
  // Without a length the body runs to the end of the connection.
  ResponseReader until_eof(false);
  REQUIRE_FALSE(feed(until_eof, "HTTP/1.1 200 OK\r\n\r\nall of it", true));
  CHECK(until_eof.is_done());
  CHECK(until_eof.body_excerpt() == "all of it");
  CHECK_FALSE(until_eof.keep_alive());
}

TEST_CASE("a HEAD response has no body whatever its length says", "[http][response_reader]") {
  ResponseReader reader(true);
  REQUIRE_FALSE(feed(reader, "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"));
  CHECK(reader.is_done());
  CHECK(reader.keep_alive());
}

TEST_CASE("an interim 100 response is recognised", "[http][response_reader]") {
  ResponseReader reader(false);
  REQUIRE_FALSE(feed(reader, "HTTP/1.1 100 Continue\r\n\r\n"));
  CHECK(reader.is_done());
  CHECK(reader.is_interim());
  ResponseReader switching(false);
  REQUIRE_FALSE(feed(switching, "HTTP/1.1 101 Switching Protocols\r\n\r\n"));
  CHECK_FALSE(switching.is_interim());
}

TEST_CASE("garbage is an error, not a response", "[http][response_reader]") {
  ResponseReader reader(false);
  CHECK(feed(reader, "NOT HTTP AT ALL\r\n\r\n"));
  ResponseReader bad_length(false);
  CHECK(feed(bad_length, "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"));
  ResponseReader huge_header(false);
  CHECK(feed(huge_header, "HTTP/1.1 200 OK\r\nX-Big: " + std::string(100'000, 'h') + "\r\n\r\n") ==
        beast_http::error::header_limit);
  ResponseReader truncated(false);
  CHECK(feed(truncated, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", true) ==
        beast_http::error::partial_message);
}

}  // namespace
}  // namespace sluice::http
