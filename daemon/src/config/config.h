#pragma once
// The validated, immutable result of loading the YAML file. Every field here is filled from
// one row of the key table (key_table.cc), which also holds its default, range and doc.
// Nothing outside config/ parses YAML; everything downstream takes these structs, usually as
// std::shared_ptr<const Config>.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sluice::config {

using Duration = std::chrono::milliseconds;
using StringMap = std::map<std::string, std::string>;

// at_least_once: idempotent producer, offsets committed after outputs are acknowledged.
// exactly_once: one transactional producer; each round's outputs (downstream, retry, rejected,
// DLQ) and its consumed offsets are committed in one Kafka transaction.
enum class DeliveryMode { AtLeastOnce, ExactlyOnce };

struct KafkaConfig {
  std::string brokers;
  DeliveryMode delivery = DeliveryMode::AtLeastOnce;
  std::string transactional_id;  // exactly_once: stable per instance, e.g. sluice-${POD_NAME}
  std::string group_id;
  std::string client_id;
  StringMap properties;           // passed verbatim to consumer and producer
  StringMap consumer_properties;  // consumer only; wins over `properties`
  StringMap producer_properties;  // producer only; wins over `properties`
  Duration commit_interval{1000};
  // The topics sluice reads and writes are checked before it consumes (kafka/topic_check.h);
  // missing ones are created only when this is set.
  bool create_topics = false;
  int64_t new_topic_partitions = -1;          // -1: the broker's default
  int64_t new_topic_replication_factor = -1;  // -1: the broker's default
  Duration topic_check_timeout{30'000};
};

struct InboundConfig {
  std::vector<std::string> topics;
};

struct FilterConfig {
  std::string blocked_senders_file;  // empty: no blocked senders
  std::vector<std::string> spam_keywords;
  std::string rejected_topic;  // empty: filtered messages are only counted
};

enum class DedupBackend { Memory, Sqlite, Redis };

// What to do while the dedup store cannot answer: wait (pause consumption) or forward
// without the check (counted).
enum class DedupUnavailable { Pause, ForwardUnchecked };

struct DedupConfig {
  DedupBackend backend = DedupBackend::Sqlite;
  Duration window{24 * 3600 * 1000};
  std::string sqlite_path;
  int64_t memory_max_entries = 1'000'000;
  std::string redis_url;                // redis://[:password@]host[:port][/db]
  std::string key_prefix = "duplicate_check:";
  Duration reservation_ttl{60'000};     // how long a reservation of a crashed instance blocks
  DedupUnavailable on_unavailable = DedupUnavailable::Pause;
};

// How record values are framed: `none`, plain JSON; `confluent`, the Schema Registry wire
// format (magic byte 0, a 4-byte big-endian schema id, then the JSON), forwarded as it came.
enum class ValueFraming { None, Confluent };

struct PipelineConfig {
  int64_t max_message_bytes = 1'048'576;
  ValueFraming value_framing = ValueFraming::None;
  int64_t max_json_depth = 64;
  std::string schemas_dir;
  int64_t batch_size = 1000;
  bool stage_thread = true;
  int64_t max_in_flight_records = 20'000;
  int64_t max_in_flight_bytes = 64 * 1024 * 1024;
  Duration stall_timeout{120'000};  // records in flight and no progress this long: not ready
  FilterConfig filter;
  DedupConfig dedup;
};

struct RouteMatch {
  std::optional<std::string> channel;       // absent: any channel
  std::optional<std::string> message_type;  // absent: any message type
};

// An HTTP route's batches: records of the route go out together, in one request.
struct HttpBatchConfig {
  int64_t max_records = 100;
  int64_t max_bytes = 1'048'576;  // record values in one request, at most
  Duration linger{5};             // a batch goes this long after its first record at the latest
  std::string format = "array";   // "array" (a JSON array of the values) or "ndjson"
};

// Where an HTTP route delivers: typically the application in the same pod.
struct HttpRouteConfig {
  std::string url;
  std::string method = "POST";
  Duration timeout{5000};
  int64_t max_connections = 16;
  int64_t pipeline_depth = 1;  // HTTP/1.1 pipelining per connection; 1: off
  StringMap headers;  // sent with every request; values may hold secrets (redacted in dumps)
  // Record headers sent as request headers besides traceparent, tracestate and baggage:
  // exact names, or "prefix*" (engine/http_forward_headers.h).
  std::vector<std::string> forward_headers;
  std::string ca_file;
  bool verify = true;
  // Requests in flight at once: "adaptive" (slow start after an outage, halved on overload)
  // or a fixed count, as written (fixed_concurrency() in validate.h reads it).
  std::string concurrency = "adaptive";
  std::optional<HttpBatchConfig> batch;  // absent: one request per record
};

// A route's rate limit: a token bucket.
struct RateLimitConfig {
  int64_t records_per_second = 0;
  int64_t burst = 0;  // 0: records_per_second
};

// How much a route may reorder: `partition` delivers the records of one input partition one
// at a time, in order; `key` keeps order only among records with the same key; `none` lets
// up to max_connections records of a partition be in flight at once.
enum class Ordering { Partition, Key, None };

// What a failed delivery means for the record: BadData goes to the DLQ at once, Transient
// through the retry tiers.
enum class ErrorClass { BadData, Transient };

// A route's `errors:`, parsed while loading (route_errors.h).
struct RouteErrorTable {
  std::map<int, ErrorClass> kafka;         // librdkafka error code (rd_kafka_resp_err_t) → class
  std::map<std::string, ErrorClass> http;  // "503" or "5xx" → class
};

struct RouteConfig {
  RouteMatch match;
  std::string topic;                  // a topic route (exactly one of topic and http is set)
  std::optional<HttpRouteConfig> http;  // an HTTP route
  Ordering ordering = Ordering::Partition;
  std::optional<RateLimitConfig> rate_limit;  // absent: no limit
  StringMap errors;  // error name or HTTP status → "bad_data" | "transient", as written (for dumps)
  RouteErrorTable error_table;  // `errors`, typed: what the engine reads
  int line = 0;  // where the route starts in the file, for messages that name it
};

// Whether a key's later records wait behind its record in a retry tier (retry.ordering).
enum class RetryOrdering { None, Key };
// What becomes of the records parked behind a key's record when that one is dead-lettered.
enum class ParkedAfterDeadLetter { Release, DeadLetter };

struct RetryConfig {
  std::vector<Duration> tiers;  // tier i holds messages that failed i+1 times
  std::string topic_prefix;
  RetryOrdering ordering = RetryOrdering::None;
  int64_t max_parked_keys = 10'000;  // keys parked at once (ordering: key)
  ParkedAfterDeadLetter after_dead_letter = ParkedAfterDeadLetter::Release;

  // "<prefix>.<delay>": seconds when whole ("retry.10s", "retry.900s"), else milliseconds.
  std::string tier_topic(size_t tier) const {
    int64_t ms = tiers[tier].count();
    return topic_prefix + "." + (ms % 1000 == 0 ? std::to_string(ms / 1000) + "s" : std::to_string(ms) + "ms");
  }
};

struct CircuitBreakerConfig {
  int64_t failure_threshold = 5;
  Duration open_timeout{60'000};
  int64_t half_open_max_calls = 1;
  int64_t success_threshold = 3;
  int64_t failure_rate_threshold = 0;  // percent; 0: off
  int64_t sliding_window_size = 100;
  int64_t minimum_calls = 20;
};

// What a DLQ record holds: the JSON envelope, or the original record byte for byte with the
// failure in sluice-* headers (docs/working-with-other-tools.md).
enum class DlqFormat { Envelope, Raw };

struct DlqConfig {
  std::string topic;
  DlqFormat format = DlqFormat::Envelope;
};

struct ShutdownConfig {
  Duration drain_timeout{25'000};
};

enum class LogFormat { Json, Text };

struct LoggingConfig {
  std::string level = "info";
  LogFormat format = LogFormat::Json;
  bool include_payloads = false;  // message bodies in log lines (never by default)
};

struct AdminConfig {
  std::string listen;  // host:port of the admin HTTP server; "" turns it off
  Duration ready_broker_timeout{30'000};  // /readyz fails after this long out of the group or without a broker
};

struct Config {
  std::string source_path;  // the file this was loaded from ("" for embedded defaults)
  KafkaConfig kafka;
  InboundConfig inbound;
  PipelineConfig pipeline;
  std::vector<RouteConfig> routes;
  RetryConfig retry;
  CircuitBreakerConfig circuit_breaker;
  DlqConfig dlq;
  ShutdownConfig shutdown;
  LoggingConfig logging;
  AdminConfig admin;
};

}  // namespace sluice::config
