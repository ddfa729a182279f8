#pragma once
// Which of a record's Kafka headers, and its key, an HTTP route sends as request headers.
//
//   forwarded  traceparent, tracestate and baggage (W3C Trace Context), always, plus the
//              route's forward_headers: exact names, or "prefix*" for every name starting with
//              prefix. Kafka header names are case-sensitive byte strings, so matching is
//              exact, as OpenTelemetry's Kafka propagators read them; the HTTP name sent is the
//              Kafka name as written. sluice-* headers are sluice's own bookkeeping and never
//              sent. A record with several headers of one name sends only its last, as Kafka
//              clients read a header; two names that differ only in case are one HTTP field,
//              and the later one is sent.
//   key        X-Sluice-Key: the record key as it is when it is printable ASCII (0x20-0x7E)
//              without a leading or trailing space; otherwise base64url without padding, with
//              X-Sluice-Key-Encoding: base64url. No key (null): no header; an empty key: an
//              empty header.
//   not sent   a header that would make the request malformed or change sluice's own
//              headers, each counted by reason (HeaderDrop): a name that is not an HTTP token
//              (from a prefix match), a value with a control character (CR, LF, NUL, ...; HTAB
//              aside) or leading or trailing whitespace (which a receiver strips), or a name of
//              a header the route sets itself (the route's configured headers, Content-Type,
//              Idempotency-Key, X-Sluice-*, the framing headers). A null value is sent empty.
//   batches    a header goes on a batch's request only when every record of the batch would
//              send it with the same value (common_headers): one record's traceparent or key
//              is never presented as the whole batch's.
//
// Threading: engine thread (one instance per HTTP route's sink). Per record it is one pass
// over the record's headers with length and byte compares; the only allocations are the
// strings of the headers it appends.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "http/http_client.h"
#include "kafka/message.h"

namespace sluice::engine {

// Why a record header was not sent (label `reason` of sluice_http_headers_dropped_total).
enum class HeaderDrop { InvalidName, InvalidValue, OwnedName };
inline constexpr size_t kHeaderDropCount = 3;
std::string_view header_drop_name(HeaderDrop reason);

// Headers left out of requests, for the counter and the first log line of each reason.
struct HeaderDrops {
  std::array<uint32_t, kHeaderDropCount> count{};
  std::array<std::string, kHeaderDropCount> first_name;  // the first header left out for each reason

  bool any() const { return count[0] + count[1] + count[2] > 0; }
  void add(std::string_view name, HeaderDrop reason);
  void clear();
};

class HttpForwardHeaders {
 public:
  // `route`: the HTTP route's settings (forward_headers, already validated; its own headers).
  explicit HttpForwardHeaders(const config::HttpRouteConfig& route);

  // Appends the record's forwarded headers and X-Sluice-Key (+ -Encoding) to `out`; what was
  // left out goes to `drops`.
  void append(const kafka::Message& message, http::HeaderList& out, HeaderDrops& drops);
  // The same for a batch: only what every record would send, with the same value.
  void append_common(const std::vector<const kafka::Message*>& messages, http::HeaderList& out, HeaderDrops& drops);

 private:
  struct Pattern {
    std::string name;
    bool prefix = false;
    // An exact name is a token (the config checked it); whether it is one the route sets
    // itself is known once, here, rather than per record.
    bool owned = false;
  };
  struct Chosen {
    std::string_view name;
    std::string_view value;
    const Pattern* pattern = nullptr;  // the entry that matched it
  };
  const Pattern* match(std::string_view name) const;
  bool owned(std::string_view name) const;

  std::vector<Pattern> patterns_;
  std::vector<std::string> configured_;  // the route's own header names, lowercase
  std::vector<Chosen> chosen_;           // scratch of append(), kept for its capacity
  http::HeaderList scratch_;             // scratch of append_common()
};

// Appends X-Sluice-Key (and X-Sluice-Key-Encoding when it is base64url) for the record's key;
// nothing for a record without one.
void append_key_headers(const kafka::Message& message, http::HeaderList& out);

}  // namespace sluice::engine
