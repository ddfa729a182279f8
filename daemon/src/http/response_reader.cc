#include "http/response_reader.h"

#include <limits>

#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>

namespace sluice::http {

namespace beast_http = boost::beast::http;

ResponseReader::ResponseReader(bool head) {
  // The limit is enforced in take_body, so that a too large body still yields its excerpt.
  // (Not boost::none: Boost 1.74 compares a Content-Length with the optional itself, and
  // every length is greater than none.)
  body_limit(std::numeric_limits<std::uint64_t>::max());
  if (head) skip(true);
}

void ResponseReader::on_response_impl(int code, string_view, int, error_code&) { status_ = code; }

void ResponseReader::on_field_impl(beast_http::field name, string_view, string_view value, error_code&) {
  if (name == beast_http::field::retry_after) retry_after_.emplace(value);
}

size_t ResponseReader::on_body_impl(string_view body, error_code& ec) { return take_body(body, ec); }

size_t ResponseReader::on_chunk_body_impl(std::uint64_t, string_view body, error_code& ec) {
  return take_body(body, ec);
}

size_t ResponseReader::take_body(string_view body, error_code& ec) {
  if (excerpt_.size() < kBodyExcerptBytes) {
    excerpt_.append(body.substr(0, kBodyExcerptBytes - excerpt_.size()));
  }
  body_bytes_ += body.size();
  if (body_bytes_ > kMaxBodyBytes) {
    ec = beast_http::error::body_limit;
    return 0;
  }
  return body.size();
}

}  // namespace sluice::http
