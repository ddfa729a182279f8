#include "http/request_writer.h"

#include <array>
#include <charconv>


namespace sluice::http {
namespace {

constexpr std::string_view kDefaultContentType = "application/json";

bool is_framing_header(std::string_view name) {
  return field_name_is(name, "content-length") || field_name_is(name, "transfer-encoding") || field_name_is(name, "connection");
}

// Empty when the header may be sent; otherwise why not. Values are never quoted in the
// reason: they may be secrets.
std::string check_header(std::string_view name, std::string_view value) {
  if (!is_token(name)) return "header name \"" + std::string(name) + "\" is not a valid token";
  if (!is_field_value(value)) return "the value of header " + std::string(name) + " contains a control character";
  if (is_framing_header(name)) return "header " + std::string(name) + " is set by the client itself";
  return {};
}

void append_header(std::string& out, std::string_view name, std::string_view value) {
  out.append(name);
  out.append(": ");
  out.append(value);
  out.append("\r\n");
}

}  // namespace

std::optional<RequestWriter> RequestWriter::create(const ClientSettings& settings, const Endpoint& endpoint,
                                                   std::string& error) {
  if (!is_token(settings.method)) {
    error = "http method \"" + settings.method + "\" is not a valid token";
    return std::nullopt;
  }
  if (!is_field_value(settings.user_agent)) {
    error = "the user agent contains a control character";
    return std::nullopt;
  }
  bool host_set = false;
  bool user_agent_set = false;
  bool content_type_set = false;
  for (const auto& [name, value] : settings.headers) {
    std::string why = check_header(name, value);
    if (!why.empty()) {
      error = std::move(why);
      return std::nullopt;
    }
    host_set = host_set || field_name_is(name, "host");
    user_agent_set = user_agent_set || field_name_is(name, "user-agent");
    content_type_set = content_type_set || field_name_is(name, "content-type");
  }

  RequestWriter writer;
  writer.is_head_ = settings.method == "HEAD";
  writer.content_type_set_ = content_type_set;
  std::string& out = writer.prefix_;
  out.append(settings.method);
  out.push_back(' ');
  out.append(endpoint.target);
  out.append(" HTTP/1.1\r\n");
  // A configured Host or User-Agent replaces ours (e.g. a virtual host reached by address).
  if (!host_set) append_header(out, "Host", endpoint.host_header);
  if (!user_agent_set && !settings.user_agent.empty()) append_header(out, "User-Agent", settings.user_agent);
  for (const auto& [name, value] : settings.headers) append_header(out, name, value);
  return writer;
}

std::string RequestWriter::check(const Request& request) const {
  for (const auto& [name, value] : request.headers) {
    std::string why = check_header(name, value);
    if (!why.empty()) return why;
    if (field_name_is(name, "host")) return "header Host can only be set in the client's settings";
  }
  return {};
}

void RequestWriter::append(const Request& request, std::string& out) const {
  out.append(prefix_);
  bool content_type_set = content_type_set_;
  for (const auto& [name, value] : request.headers) {
    content_type_set = content_type_set || field_name_is(name, "content-type");
    append_header(out, name, value);
  }
  if (!content_type_set) append_header(out, "Content-Type", kDefaultContentType);
  std::array<char, 24> digits{};
  const auto [end, ec] = std::to_chars(digits.data(), digits.data() + digits.size(), request.body.size());
  (void)ec;  // 24 characters hold any size_t
  append_header(out, "Content-Length", std::string_view(digits.data(), static_cast<size_t>(end - digits.data())));
  out.append("\r\n");
  out.append(request.body);
}

}  // namespace sluice::http
