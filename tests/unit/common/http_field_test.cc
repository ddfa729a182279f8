// RFC 9110's header grammar as the HTTP client and the HTTP routes use it.

#include "common/http_field.h"

#include <catch2/catch.hpp>

#include <string>

using namespace sluice::http;

TEST_CASE("http field: every byte at every place of values up to 40 bytes", "[common][http_field]") {
  // The check looks at eight bytes at a time; a byte that is refused must be found wherever it
  // sits in a word, next to any other byte (0x80 and up included).
  int wrong = 0;
  for (size_t size = 1; size <= 40; ++size) {
    for (size_t at = 0; at < size; ++at) {
      for (int byte = 0; byte < 256; ++byte) {
        std::string value(size, 'a');
        value[(at + 3) % size] = static_cast<char>(0xE9);  // obs-text somewhere else
        value[at] = static_cast<char>(byte);
        const bool expected = !((byte < 0x20 && byte != '\t') || byte == 0x7F);
        if (is_field_value(value) != expected) ++wrong;
      }
    }
  }
  CHECK(wrong == 0);
  CHECK(is_field_value(""));
  CHECK(is_field_value(std::string(64, '\t')));
  CHECK_FALSE(is_field_value(std::string(63, ' ') + '\n'));
}

TEST_CASE("http field: names compared without case, and the headers a route sets itself", "[common][http_field]") {
  CHECK(field_name_is("Content-Type", "content-type"));
  CHECK_FALSE(field_name_is("Content-Typ", "content-type"));
  CHECK(is_route_owned_header("X-SLUICE-anything"));
  CHECK(is_route_owned_header("idempotency-key"));
  CHECK(is_route_owned_header("Transfer-Encoding"));
  CHECK_FALSE(is_route_owned_header("x-sluice"));
  CHECK_FALSE(is_route_owned_header("traceparent"));
  CHECK_FALSE(is_route_owned_header("authorization"));  // the route's own headers are the route's business
}
