#pragma once
// Parses one HTTP/1.1 response and keeps only what a client reports: the status, the first
// KiB of the body, Retry-After, and whether the connection may be reused. Nothing else of the
// header is stored, and the body is counted rather than kept, so a response costs no
// allocation beyond its excerpt. One reader per response (Beast parsers are single-use); the
// connection emplaces a new one in place for each request.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/beast/http/basic_parser.hpp>

namespace sluice::http {

inline constexpr size_t kBodyExcerptBytes = 1024;
// Past this the body is not read: the status is reported and the connection closed.
inline constexpr uint64_t kMaxBodyBytes = 1024 * 1024;

class ResponseReader final : public boost::beast::http::basic_parser<false> {
 public:
  // `head`: the request was HEAD, so the response has no body whatever its header says.
  explicit ResponseReader(bool head);

  int status() const { return status_; }
  std::string& body_excerpt() { return excerpt_; }
  std::optional<std::string>& retry_after() { return retry_after_; }
  uint64_t body_bytes() const { return body_bytes_; }

  // A 1xx other than 101: the final response follows on the same connection.
  bool is_interim() const { return status_ >= 100 && status_ < 200 && status_ != 101; }

 private:
  using error_code = boost::beast::error_code;
  using string_view = boost::beast::string_view;

  void on_request_impl(boost::beast::http::verb, string_view, string_view, int, error_code&) override {}
  void on_response_impl(int code, string_view reason, int version, error_code& ec) override;
  void on_field_impl(boost::beast::http::field name, string_view name_string, string_view value,
                     error_code& ec) override;
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
  size_t on_body_impl(string_view body, error_code& ec) override;
  void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
  size_t on_chunk_body_impl(std::uint64_t remain, string_view body, error_code& ec) override;
  void on_finish_impl(error_code&) override {}

  size_t take_body(string_view body, error_code& ec);

  int status_ = 0;
  std::string excerpt_;
  std::optional<std::string> retry_after_;
  uint64_t body_bytes_ = 0;
};

}  // namespace sluice::http
