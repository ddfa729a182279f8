#pragma once
// Serialises requests for one client. The request line and the headers every request shares
// are rendered once; each request then costs one append of its own headers, Content-Length and
// body into a buffer the connection reuses.
//
// Header names must be tokens and values must not hold CR, LF or other control characters
// (HTAB aside): anything else could smuggle a second header or request. The framing headers
// (Content-Length, Transfer-Encoding, Connection) are the client's alone.

#include <optional>
#include <string>
#include <string_view>

#include "common/http_field.h"  // is_token, is_field_value
#include "http/http_client.h"
#include "http/url.h"

namespace sluice::http {

class RequestWriter {
 public:
  // nullopt with `error` set when the method or one of the client's headers cannot be sent.
  static std::optional<RequestWriter> create(const ClientSettings& settings, const Endpoint& endpoint,
                                             std::string& error);

  // Empty when the request's own headers can be sent; otherwise why not.
  std::string check(const Request& request) const;
  // Replaces `out` with the whole request (head and body). The request must have passed check().
  void write(const Request& request, std::string& out) const {
    out.clear();
    append(request, out);
  }
  // Appends the whole request to `out`: pipelined requests go out in one write.
  void append(const Request& request, std::string& out) const;

  // HEAD responses carry no body even when they announce a length.
  bool is_head() const { return is_head_; }

 private:
  RequestWriter() = default;

  std::string prefix_;             // request line, Host, User-Agent and the client's headers
  bool content_type_set_ = false;  // the client's headers name a Content-Type
  bool is_head_ = false;
};

}  // namespace sluice::http
