#include "app/status_command.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <optional>

#include "admin/status_board.h"
#include "common/text.h"
#include "config/loader.h"

namespace sluice::app {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr std::chrono::seconds kRequestTimeout{5};

}  // namespace

const char* const kStatusUsage =
    "usage: sluice status [--admin HOST:PORT] [--config FILE]\n"
    "\n"
    "Prints what a running sluice is doing: its partitions (committed offset, position, high\n"
    "watermark, lag, pause reasons), its destinations (breaker state, records waiting) and totals\n"
    "(in-flight records and bytes, retry-held records, dedup store), from its admin server's /status.\n"
    "\n"
    "  --admin HOST:PORT  the admin server to ask (default: admin.listen of --config FILE, or of the\n"
    "                     embedded defaults; a wildcard host means this machine)\n"
    "  -c, --config FILE  read admin.listen from this config file\n"
    "  --help             print this help\n"
    "\n"
    "exit codes: 0 printed; 1 no answer or no status yet; 2 usage or configuration errors\n";

namespace {

struct Target {
  std::string host;
  std::string port;
};

// "host:port" as written in admin.listen; a wildcard or empty host is this machine.
std::optional<Target> parse_target(const std::string& listen) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon + 1 == listen.size()) return std::nullopt;
  Target target{listen.substr(0, colon), listen.substr(colon + 1)};
  if (target.host.size() >= 2 && target.host.front() == '[' && target.host.back() == ']') {
    target.host = target.host.substr(1, target.host.size() - 2);
  }
  if (target.host.empty() || target.host == "0.0.0.0") target.host = "127.0.0.1";
  if (target.host == "::") target.host = "::1";
  return target;
}

// GET `path`; the status code (0 when no answer) and body.
int fetch(const Target& target, const std::string& path, std::string& body, std::string& error) {
  asio::io_context io;
  beast::tcp_stream stream(io);
  http::response<http::string_body> response;
  beast::flat_buffer buffer;
  http::request<http::string_body> request(http::verb::get, path, 11);
  request.set(http::field::host, target.host);
  request.set(http::field::connection, "close");
  beast::error_code failure;
  asio::ip::tcp::resolver resolver(io);
  stream.expires_after(kRequestTimeout);
  resolver.async_resolve(target.host, target.port, [&](beast::error_code ec, asio::ip::tcp::resolver::results_type hosts) {
    if (ec) {
      failure = ec;
      return;
    }
    stream.async_connect(hosts, [&](beast::error_code connect_error, const asio::ip::tcp::endpoint&) {
      if (connect_error) {
        failure = connect_error;
        return;
      }
      http::async_write(stream, request, [&](beast::error_code write_error, size_t) {
        if (write_error) {
          failure = write_error;
          return;
        }
        http::async_read(stream, buffer, response, [&](beast::error_code read_error, size_t) { failure = read_error; });
      });
    });
  });
  io.run();
  if (failure) {
    error = failure.message();
    return 0;
  }
  body = std::move(response.body());
  return static_cast<int>(response.result_int());
}

using Row = std::vector<std::string>;

void print_table(std::ostream& out, const Row& header, const std::vector<Row>& rows) {
  std::vector<size_t> widths(header.size());
  for (size_t i = 0; i < header.size(); ++i) widths[i] = header[i].size();
  for (const Row& row : rows) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  auto line = [&](const Row& row) {
    std::string text;
    for (size_t i = 0; i < row.size(); ++i) {
      text += row[i];
      if (i + 1 < row.size()) text += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    out << text << "\n";
  };
  line(header);
  for (const Row& row : rows) line(row);
}

std::string known(int64_t value) { return value < 0 ? std::string("-") : std::to_string(value); }

std::string bytes(int64_t count) {
  if (count < 1024) return std::to_string(count) + " B";
  if (count < 1024 * 1024) return std::to_string(count / 1024) + " KiB";
  return std::to_string(count / (1024 * 1024)) + " MiB";
}

}  // namespace

void print_status(std::ostream& out, const StatusSnapshot& snapshot, int64_t now_ms) {
  const auto age = std::chrono::milliseconds(std::max<int64_t>(0, now_ms - snapshot.taken_at_ms));
  out << "group " << snapshot.group_id << " (" << snapshot.delivery << "): "
      << (snapshot.in_group ? "member" : "NOT IN GROUP") << ", brokers "
      << (snapshot.brokers_reached ? "reached" : "NOT REACHED") << "; snapshot "
      << text::format_rfc3339_utc(std::chrono::system_clock::time_point(std::chrono::milliseconds(snapshot.taken_at_ms)))
      << " (" << text::format_duration(std::chrono::duration_cast<std::chrono::seconds>(age)) << " ago)\n\n";

  std::vector<Row> partitions;
  for (const PartitionStatus& partition : snapshot.partitions) {
    std::string paused;
    for (const std::string& reason : partition.paused_for) paused += (paused.empty() ? "" : ",") + reason;
    partitions.push_back({partition.topic + "/" + std::to_string(partition.partition), known(partition.committed),
                          known(partition.position), known(partition.high_watermark), known(partition.lag),
                          std::to_string(partition.in_flight), std::to_string(partition.retry_held),
                          paused.empty() ? std::string("-") : paused});
  }
  if (partitions.empty()) {
    out << "no partitions assigned\n";
  } else {
    print_table(out, {"PARTITION", "COMMITTED", "POSITION", "HIGH", "LAG", "IN_FLIGHT", "RETRY_HELD", "PAUSED"},
                partitions);
  }
  out << "\n";

  std::vector<Row> destinations;
  for (const DestinationStatus& destination : snapshot.destinations) {
    destinations.push_back({destination.name, destination.breaker, std::to_string(destination.queued),
                            std::to_string(destination.waiting), std::to_string(destination.in_flight)});
  }
  print_table(out, {"DESTINATION", "BREAKER", "QUEUED", "WAITING", "IN_FLIGHT"}, destinations);
  out << "\n";

  int64_t lag = 0;
  for (const PartitionStatus& partition : snapshot.partitions) lag += std::max<int64_t>(0, partition.lag);
  out << "totals: " << snapshot.partitions.size() << " partitions, lag " << lag << ", in flight "
      << snapshot.in_flight_records << " records (" << bytes(snapshot.in_flight_bytes) << "), retry held "
      << snapshot.retry_held << ", dedup " << snapshot.dedup_backend << " (" << snapshot.dedup_state << ")\n";
}

int status_command(const std::vector<std::string>& args) {
  std::string admin;
  std::string config_path;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kStatusUsage;
      return kExitOk;
    }
    if ((arg == "--admin" || arg == "--config" || arg == "-c") && i + 1 < args.size()) {
      (arg == "--admin" ? admin : config_path) = args[++i];
    } else if (arg.starts_with("--admin=")) {
      admin = arg.substr(8);
    } else if (arg.starts_with("--config=")) {
      config_path = arg.substr(9);
    } else {
      std::cerr << "sluice status: unexpected argument: " << arg << "\n\n" << kStatusUsage;
      return kExitUsage;
    }
  }
  if (admin.empty()) {
    config::EnvLookup env = config::process_env();
    config::LoadResult loaded = config_path.empty() ? config::load_defaults(env) : config::load_file(config_path, env);
    if (!loaded.ok()) {
      for (const std::string& error : loaded.errors) std::cerr << error << "\n";
      return kExitUsage;
    }
    admin = loaded.config->admin.listen;
    if (admin.empty()) {
      std::cerr << "sluice status: the admin server is off (admin.listen is \"\"); nothing to ask\n";
      return kExitUsage;
    }
  }
  std::optional<Target> target = parse_target(admin);
  if (!target) {
    std::cerr << "sluice status: --admin must be HOST:PORT, found \"" << admin << "\"\n";
    return kExitUsage;
  }
  std::string body;
  std::string error;
  int code = fetch(*target, "/status", body, error);
  if (code == 0) {
    std::cerr << "sluice status: no answer from " << target->host << ":" << target->port << ": " << error << "\n";
    return kExitFailure;
  }
  if (code != 200) {
    std::cerr << "sluice status: " << target->host << ":" << target->port << "/status answered " << code << ": "
              << text::trim(body) << "\n";
    return kExitFailure;
  }
  std::optional<StatusSnapshot> snapshot = admin::status_from_json(body, error);
  if (!snapshot) {
    std::cerr << "sluice status: unexpected answer: " << error << "\n";
    return kExitFailure;
  }
  print_status(std::cout, *snapshot, text::now_epoch_ms());
  return kExitOk;
}

}  // namespace sluice::app
