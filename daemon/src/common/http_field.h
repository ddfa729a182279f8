#pragma once
// RFC 9110's grammar for what may be written into an HTTP/1.1 header: a field name is a token,
// a field value holds no control character but HTAB. Shared by the HTTP client (which refuses
// a request that breaks it), the config checks of header names and the HTTP routes' choice of
// record headers to send. Pure functions.

#include <string_view>

namespace sluice::http {

// A non-empty run of tchar: letters, digits and !#$%&'*+-.^_`|~.
bool is_token(std::string_view text);
// No byte below 0x20 but HTAB, and no DEL (bytes from 0x80 up, obs-text, are allowed).
bool is_field_value(std::string_view text);

// Whether header name `name`, in any case, is `lowercase` (no allocation).
bool field_name_is(std::string_view name, std::string_view lowercase);

// Whether an HTTP route's request header `name` (any case) is one sluice or its HTTP client
// sets itself: the framing headers, Host, User-Agent, Content-Type, Idempotency-Key and every
// X-Sluice-* header. A record header of such a name is never sent in its place.
bool is_route_owned_header(std::string_view name);

}  // namespace sluice::http
