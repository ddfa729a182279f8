#include "config/key_table.h"

#include <chrono>
#include <optional>
#include <type_traits>
#include <utility>

#include "common/assert.h"
#include "config/key_bindings.h"

namespace sluice::config {
namespace {

using namespace std::chrono_literals;
using namespace bindings;

// New backends go here and in DedupBackend, in any order.
constexpr EnumSpelling<DedupBackend> kDedupBackends[] = {
    {"memory", DedupBackend::Memory},
    {"sqlite", DedupBackend::Sqlite},
    {"redis", DedupBackend::Redis},
};

constexpr EnumSpelling<DedupUnavailable> kDedupUnavailable[] = {
    {"pause", DedupUnavailable::Pause},
    {"forward_unchecked", DedupUnavailable::ForwardUnchecked},
};

constexpr EnumSpelling<RetryOrdering> kRetryOrderings[] = {
    {"none", RetryOrdering::None},
    {"key", RetryOrdering::Key},
};

constexpr EnumSpelling<ParkedAfterDeadLetter> kAfterDeadLetter[] = {
    {"release", ParkedAfterDeadLetter::Release},
    {"dead_letter", ParkedAfterDeadLetter::DeadLetter},
};

constexpr EnumSpelling<DeliveryMode> kDeliveryModes[] = {
    {"at_least_once", DeliveryMode::AtLeastOnce},
    {"exactly_once", DeliveryMode::ExactlyOnce},
};

constexpr EnumSpelling<DlqFormat> kDlqFormats[] = {
    {"envelope", DlqFormat::Envelope},
    {"raw", DlqFormat::Raw},
};

constexpr EnumSpelling<ValueFraming> kValueFramings[] = {
    {"none", ValueFraming::None},
    {"confluent", ValueFraming::Confluent},
};

constexpr EnumSpelling<LogFormat> kLogFormats[] = {
    {"json", LogFormat::Json},
    {"text", LogFormat::Text},
};

KeyTable build_table() {
  KeyTable rows;
  auto add = [&rows](KeyRow row) { rows.push_back(std::move(row)); };

  add({.path = "kafka", .type = KeyType::Object, .doc = "Connection to the Kafka cluster."});
  add({.path = "kafka.brokers",
       .type = KeyType::String,
       .default_text = "${KAFKA_BROKERS:-127.0.0.1:9092}",
       .flags = {.non_empty = true},
       .doc = "Bootstrap brokers as comma-separated host:port pairs.",
       .bind = field([](auto& c) -> auto& { return c.kafka.brokers; })});
  add({.path = "kafka.group_id",
       .type = KeyType::String,
       .default_text = "sluice",
       .flags = {.non_empty = true},
       .doc = "Consumer group; every instance sharing the inbound topics uses the same one.",
       .bind = field([](auto& c) -> auto& { return c.kafka.group_id; })});
  add({.path = "kafka.client_id",
       .type = KeyType::String,
       .default_text = "sluice",
       .flags = {.non_empty = true},
       .doc = "Client id both clients send, shown in broker logs and quotas.",
       .bind = field([](auto& c) -> auto& { return c.kafka.client_id; })});
  add({.path = "kafka.properties",
       .type = KeyType::StringMap,
       .default_text = "{}",
       .flags = {.secret_entries = true},
       .doc = "librdkafka properties for both clients, passed verbatim (security.protocol, sasl.*, ...).",
       .bind = field([](auto& c) -> auto& { return c.kafka.properties; })});
  add({.path = "kafka.consumer_properties",
       .type = KeyType::StringMap,
       .default_text = "{}",
       .flags = {.secret_entries = true},
       .doc = "librdkafka properties for the consumer only; they win over kafka.properties.",
       .bind = field([](auto& c) -> auto& { return c.kafka.consumer_properties; })});
  add({.path = "kafka.producer_properties",
       .type = KeyType::StringMap,
       .default_text = "{}",
       .flags = {.secret_entries = true},
       .doc = "librdkafka properties for the producer only; they win over kafka.properties.",
       .bind = field([](auto& c) -> auto& { return c.kafka.producer_properties; })});
  add({.path = "kafka.delivery",
       .type = KeyType::Enum,
       .default_text = "at_least_once",
       .allowed = spellings(kDeliveryModes),
       .doc = "at_least_once, or exactly_once: each round's outputs and consumed offsets in one Kafka transaction "
              "(topic routes only).",
       .bind = enum_field(kDeliveryModes, [](auto& c) -> auto& { return c.kafka.delivery; })});
  add({.path = "kafka.transactional_id",
       .type = KeyType::String,
       .default_text = "sluice-${POD_NAME:-local}",
       .flags = {.non_empty = true},
       .doc = "exactly_once: the producer's transactional.id; stable for an instance, unique across instances.",
       .bind = field([](auto& c) -> auto& { return c.kafka.transactional_id; })});
  add({.path = "kafka.commit_interval",
       .type = KeyType::Duration,
       .default_text = "1s",
       .min = ms(10ms),
       .max = ms(1h),
       .doc = "How often the offsets of finished messages are committed.",
       .bind = field([](auto& c) -> auto& { return c.kafka.commit_interval; })});
  add({.path = "kafka.create_topics",
       .type = KeyType::Bool,
       .default_text = "false",
       .doc = "Create the topics sluice needs (routes, retry tiers, DLQ, rejected, inbound) that the cluster lacks, at "
              "start; false: a missing topic stops the start with exit status 2.",
       .bind = field([](auto& c) -> auto& { return c.kafka.create_topics; })});
  add({.path = "kafka.new_topic_partitions",
       .type = KeyType::Int,
       .default_text = "-1",
       .min = -1,
       .max = 100000,
       .doc = "Partitions of a topic sluice creates; -1: the broker's default. Retry tiers under retry.ordering: key "
              "get the count of the inbound topic with the most instead.",
       .bind = field([](auto& c) -> auto& { return c.kafka.new_topic_partitions; })});
  add({.path = "kafka.new_topic_replication_factor",
       .type = KeyType::Int,
       .default_text = "-1",
       .min = -1,
       .max = 32767,
       .doc = "Replication factor of a topic sluice creates; -1: the broker's default.",
       .bind = field([](auto& c) -> auto& { return c.kafka.new_topic_replication_factor; })});
  add({.path = "kafka.topic_check_timeout",
       .type = KeyType::Duration,
       .default_text = "30s",
       .min = ms(1s),
       .max = ms(50s),
       .doc = "How long the start-up topic check waits for the brokers; no answer within it stops the start with exit "
              "status 1. At most 50s: /livez fails after 60 s without an event loop.",
       .bind = field([](auto& c) -> auto& { return c.kafka.topic_check_timeout; })});

  add({.path = "inbound", .type = KeyType::Object, .doc = "Where messages come from."});
  add({.path = "inbound.topics",
       .type = KeyType::StringList,
       .default_text = "[inbound.email, inbound.whatsapp]",
       .flags = {.non_empty = true, .topic_name = true},
       .doc = "Topics to consume.",
       .bind = field([](auto& c) -> auto& { return c.inbound.topics; })});

  add({.path = "pipeline", .type = KeyType::Object, .doc = "The checks every message passes before it is routed."});
  add({.path = "pipeline.max_message_bytes",
       .type = KeyType::Int,
       .default_text = "1048576",
       .min = 1,
       .max = 1'073'741'824,
       .doc = "Larger record values go to the DLQ without being parsed.",
       .bind = field([](auto& c) -> auto& { return c.pipeline.max_message_bytes; })});
  add({.path = "pipeline.max_json_depth",
       .type = KeyType::Int,
       .default_text = "64",
       .min = 1,
       .max = 1000,
       .doc = "Deeper JSON nesting goes to the DLQ.",
       .bind = field([](auto& c) -> auto& { return c.pipeline.max_json_depth; })});
  add({.path = "pipeline.value_framing",
       .type = KeyType::Enum,
       .default_text = "none",
       .allowed = spellings(kValueFramings),
       .doc = "none: values are JSON; confluent: each value is the Schema Registry wire format (magic byte 0, 4-byte "
              "schema id, then JSON), checked on its JSON and forwarded whole; a value without the header goes to "
              "the DLQ as invalid_framing.",
       .bind = enum_field(kValueFramings, [](auto& c) -> auto& { return c.pipeline.value_framing; })});
  add({.path = "pipeline.schemas_dir",
       .type = KeyType::String,
       .default_text = "config/schemas",
       .flags = {.non_empty = true, .path = true},
       .doc = "Directory of the JSON Schemas (<message_type>.json) messages are checked against; each file at "
              "most 1 MiB.",
       .bind = field([](auto& c) -> auto& { return c.pipeline.schemas_dir; })});
  add({.path = "pipeline.batch_size",
       .type = KeyType::Int,
       .default_text = "1000",
       .min = 1,
       .max = 100'000,
       .doc = "Records taken from the consumer per processing round.",
       .bind = field([](auto& c) -> auto& { return c.pipeline.batch_size; })});
  add({.path = "pipeline.stage_thread",
       .type = KeyType::Bool,
       .default_text = "true",
       .doc = "Run parse, schema, filter and fingerprint on a thread of their own beside the engine thread; false for a container limited to one CPU.",
       .bind = field([](auto& c) -> auto& { return c.pipeline.stage_thread; })});
  add({.path = "pipeline.max_in_flight_records",
       .type = KeyType::Int,
       .default_text = "20000",
       .min = 1,
       .max = 10'000'000,
       .doc = "Consumption pauses while this many records are taken but not finished.",
       .bind = field([](auto& c) -> auto& { return c.pipeline.max_in_flight_records; })});
  add({.path = "pipeline.max_in_flight_bytes",
       .type = KeyType::Int,
       .default_text = "67108864",
       .min = 1024,
       .max = 68'719'476'736,
       .doc = "Consumption pauses while this many value bytes are taken but not finished.",
       .bind = field([](auto& c) -> auto& { return c.pipeline.max_in_flight_bytes; })});

  add({.path = "pipeline.stall_timeout",
       .type = KeyType::Duration,
       .default_text = "2m",
       .min = ms(1s),
       .max = ms(24h),
       .doc = "A partition with records in flight (not waiting for a retry due time or an open breaker) and no "
              "progress for this long is stalled: logged once, counted, and /readyz fails.",
       .bind = field([](auto& c) -> auto& { return c.pipeline.stall_timeout; })});

  add({.path = "pipeline.filter",
       .type = KeyType::Object,
       .doc = "Deliberate rejections: counted, and copied to rejected_topic when one is set."});
  add({.path = "pipeline.filter.blocked_senders_file",
       .type = KeyType::String,
       .default_text = "config/blocked_senders.txt",
       .flags = {.path = true},
       .doc = "File of blocked senders, one per line, at most 16 MiB; \"\" for none.",
       .bind = field([](auto& c) -> auto& { return c.pipeline.filter.blocked_senders_file; })});
  add({.path = "pipeline.filter.spam_keywords",
       .type = KeyType::StringList,
       .default_text = "[free money, click here, urgent action required, congratulations you won, act now]",
       .doc = "Phrases that mark a message as spam.",
       .bind = field([](auto& c) -> auto& { return c.pipeline.filter.spam_keywords; })});
  add({.path = "pipeline.filter.rejected_topic",
       .type = KeyType::String,
       .default_text = "\"\"",
       .flags = {.topic_name = true},
       .doc = "Topic that receives rejected messages; \"\" to only count them.",
       .bind = field([](auto& c) -> auto& { return c.pipeline.filter.rejected_topic; })});

  add({.path = "pipeline.dedup",
       .type = KeyType::Object,
       .doc = "Drops messages whose content was already forwarded within the window."});
  add({.path = "pipeline.dedup.backend",
       .type = KeyType::Enum,
       .default_text = "sqlite",
       .allowed = spellings(kDedupBackends),
       .doc = "Where fingerprints are kept: memory (lost on restart), sqlite (a local file) or redis (shared by "
              "every instance).",
       .bind = enum_field(kDedupBackends, [](auto& c) -> auto& { return c.pipeline.dedup.backend; })});
  add({.path = "pipeline.dedup.window",
       .type = KeyType::Duration,
       .default_text = "24h",
       .min = ms(1s),
       .max = ms(24h * 365),
       .doc = "How long a forwarded message counts as seen.",
       .bind = field([](auto& c) -> auto& { return c.pipeline.dedup.window; })});
  add({.path = "pipeline.dedup.sqlite_path",
       .type = KeyType::String,
       .default_text = "${STATE_DIRECTORY:-/var/lib/sluice}/dedup.db",
       .flags = {.non_empty = true, .path = true},
       .doc = "Database file of the sqlite backend.",
       .bind = field([](auto& c) -> auto& { return c.pipeline.dedup.sqlite_path; })});
  add({.path = "pipeline.dedup.memory_max_entries",
       .type = KeyType::Int,
       .default_text = "1000000",
       .min = 1,
       .max = 100'000'000,
       .doc = "Most fingerprints the memory backend holds.",
       .bind = field([](auto& c) -> auto& { return c.pipeline.dedup.memory_max_entries; })});
  add({.path = "pipeline.dedup.redis_url",
       .type = KeyType::String,
       .default_text = "redis://127.0.0.1:6379/0",
       .flags = {.sensitive = true, .non_empty = true},
       .doc = "Redis server of the redis backend: redis://[:password@]host[:port][/db]; put the password in ${VAR}.",
       .bind = field([](auto& c) -> auto& { return c.pipeline.dedup.redis_url; })});
  add({.path = "pipeline.dedup.key_prefix",
       .type = KeyType::String,
       .default_text = "\"duplicate_check:\"",
       .doc = "Redis keys are key_prefix + fingerprint (hex); the default is the reference detector's key space.",
       .bind = field([](auto& c) -> auto& { return c.pipeline.dedup.key_prefix; })});
  add({.path = "pipeline.dedup.reservation_ttl",
       .type = KeyType::Duration,
       .default_text = "60s",
       .min = ms(1s),
       .max = ms(24h),
       .doc = "How long a reservation lives in Redis before its message's outcome is known; a crashed "
              "instance's reservations expire after it.",
       .bind = field([](auto& c) -> auto& { return c.pipeline.dedup.reservation_ttl; })});
  add({.path = "pipeline.dedup.on_unavailable",
       .type = KeyType::Enum,
       .default_text = "pause",
       .allowed = spellings(kDedupUnavailable),
       .doc = "While the dedup store cannot answer: pause consumption, or forward_unchecked (counted).",
       .bind = enum_field(kDedupUnavailable, [](auto& c) -> auto& { return c.pipeline.dedup.on_unavailable; })});

  add_route_rows(rows);

  add({.path = "retry",
       .type = KeyType::Object,
       .doc = "Retry tiers: delayed topics that transiently failed messages wait in before another attempt."});
  add({.path = "retry.tiers",
       .type = KeyType::DurationList,
       .default_text = "[10s, 30s, 60s, 300s, 900s]",
       .min = ms(100ms),
       .max = ms(24h * 7),
       .doc = "Delay of each tier, in order; a message that failed n times waits in tier n. [] sends "
              "transient failures straight to the DLQ.",
       .bind = field([](auto& c) -> auto& { return c.retry.tiers; })});
  add({.path = "retry.topic_prefix",
       .type = KeyType::String,
       .default_text = "retry",
       .flags = {.non_empty = true, .topic_name = true},
       .doc = "Tier topics are named <topic_prefix>.<delay>, e.g. retry.10s; sluice consumes them too.",
       .bind = field([](auto& c) -> auto& { return c.retry.topic_prefix; })});
  add({.path = "retry.ordering",
       .type = KeyType::Enum,
       .default_text = "none",
       .allowed = spellings(kRetryOrderings),
       .doc = "key: once a record goes to a retry tier, the later records of its key (in its input partition) "
              "follow it into the tiers, parked behind it, until it is forwarded or dead-lettered; none: they are "
              "forwarded at once and may overtake it. key needs range assignment and as many partitions in every "
              "tier topic as in the inbound topics.",
       .bind = enum_field(kRetryOrderings, [](auto& c) -> auto& { return c.retry.ordering; })});
  add({.path = "retry.max_parked_keys",
       .type = KeyType::Int,
       .default_text = "10000",
       .min = 1,
       .max = 10'000'000,
       .doc = "With ordering: key, keys parked at once; a key that fails past it is not parked (its later records "
              "may overtake it), counted in sluice_retry_parking_refused_total and logged.",
       .bind = field([](auto& c) -> auto& { return c.retry.max_parked_keys; })});
  add({.path = "retry.after_dead_letter",
       .type = KeyType::Enum,
       .default_text = "release",
       .allowed = spellings(kAfterDeadLetter),
       .doc = "With ordering: key, what becomes of the records parked behind a record that is dead-lettered: "
              "release (forwarded in order) or dead_letter (to the DLQ with reason predecessor_dead_lettered).",
       .bind = enum_field(kAfterDeadLetter, [](auto& c) -> auto& { return c.retry.after_dead_letter; })});

  add({.path = "circuit_breaker",
       .type = KeyType::Object,
       .doc = "One breaker per destination; while it is open the partitions feeding it are paused."});
  add({.path = "circuit_breaker.failure_threshold",
       .type = KeyType::Int,
       .default_text = "5",
       .min = 1,
       .max = 1'000'000,
       .doc = "Consecutive failed deliveries that open the breaker.",
       .bind = field([](auto& c) -> auto& { return c.circuit_breaker.failure_threshold; })});
  add({.path = "circuit_breaker.open_timeout",
       .type = KeyType::Duration,
       .default_text = "60s",
       .min = ms(100ms),
       .max = ms(24h),
       .doc = "How long an open breaker lets nothing through before probing.",
       .bind = field([](auto& c) -> auto& { return c.circuit_breaker.open_timeout; })});
  add({.path = "circuit_breaker.half_open_max_calls",
       .type = KeyType::Int,
       .default_text = "1",
       .min = 1,
       .max = 10'000,
       .doc = "Probe deliveries in flight at once while half-open.",
       .bind = field([](auto& c) -> auto& { return c.circuit_breaker.half_open_max_calls; })});
  add({.path = "circuit_breaker.success_threshold",
       .type = KeyType::Int,
       .default_text = "3",
       .min = 1,
       .max = 10'000,
       .doc = "Successful probes that close the breaker.",
       .bind = field([](auto& c) -> auto& { return c.circuit_breaker.success_threshold; })});
  add({.path = "circuit_breaker.failure_rate_threshold",
       .type = KeyType::Int,
       .default_text = "0",
       .min = 0,
       .max = 100,
       .doc = "Also open at this failure percentage over the sliding window; 0 turns the rate rule off.",
       .bind = field([](auto& c) -> auto& { return c.circuit_breaker.failure_rate_threshold; })});
  add({.path = "circuit_breaker.sliding_window_size",
       .type = KeyType::Int,
       .default_text = "100",
       .min = 1,
       .max = 100'000,
       .doc = "Deliveries the failure rate is measured over.",
       .bind = field([](auto& c) -> auto& { return c.circuit_breaker.sliding_window_size; })});
  add({.path = "circuit_breaker.minimum_calls",
       .type = KeyType::Int,
       .default_text = "20",
       .min = 1,
       .max = 100'000,
       .doc = "Deliveries needed in the window before the failure rate can open the breaker.",
       .bind = field([](auto& c) -> auto& { return c.circuit_breaker.minimum_calls; })});

  add({.path = "dlq", .type = KeyType::Object, .doc = "Dead-letter queue for records that fail a check."});
  add({.path = "dlq.topic",
       .type = KeyType::String,
       .default_text = "dlq",
       .flags = {.non_empty = true, .topic_name = true},
       .doc = "Topic that receives bad records, each with the reason it was rejected.",
       .bind = field([](auto& c) -> auto& { return c.dlq.topic; })});
  add({.path = "dlq.format",
       .type = KeyType::Enum,
       .default_text = "envelope",
       .allowed = spellings(kDlqFormats),
       .doc = "What a DLQ record holds: envelope (the original inside a JSON object with the failure, truncated "
              "when too large) or raw (the original value, key and headers byte for byte, the failure in "
              "sluice-* headers; any consumer can re-drive it).",
       .bind = enum_field(kDlqFormats, [](auto& c) -> auto& { return c.dlq.format; })});

  add({.path = "shutdown", .type = KeyType::Object, .doc = "Behaviour on SIGTERM."});
  add({.path = "shutdown.drain_timeout",
       .type = KeyType::Duration,
       .default_text = "25s",
       .min = 0,
       .max = ms(10min),
       .doc = "How long in-flight messages may take to finish; keep it below the supervisor's stop timeout.",
       .bind = field([](auto& c) -> auto& { return c.shutdown.drain_timeout; })});

  add({.path = "logging", .type = KeyType::Object, .doc = "Log lines on stderr."});
  add({.path = "logging.level",
       .type = KeyType::Enum,
       .default_text = "info",
       .allowed = {"debug", "info", "warn", "error"},
       .doc = "Lowest level written.",
       .bind = field([](auto& c) -> auto& { return c.logging.level; })});
  add({.path = "logging.format",
       .type = KeyType::Enum,
       .default_text = "json",
       .allowed = spellings(kLogFormats),
       .doc = "json: one JSON object per line; text: ts level msg key=value.",
       .bind = enum_field(kLogFormats, [](auto& c) -> auto& { return c.logging.format; })});
  add({.path = "logging.include_payloads",
       .type = KeyType::Bool,
       .default_text = "false",
       .doc = "Also log message bodies (e.g. of dead-lettered records); off by default, as they may hold personal data.",
       .bind = field([](auto& c) -> auto& { return c.logging.include_payloads; })});

  add({.path = "admin", .type = KeyType::Object, .doc = "The read-only admin HTTP server."});
  add({.path = "admin.listen",
       .type = KeyType::String,
       .default_text = "0.0.0.0:9464",
       .doc = "host:port for /metrics, /livez, /readyz and /healthz; \"\" turns the server off.",
       .bind = field([](auto& c) -> auto& { return c.admin.listen; })});
  add({.path = "admin.ready_broker_timeout",
       .type = KeyType::Duration,
       .default_text = "30s",
       .min = ms(1s),
       .max = ms(1h),
       .doc = "/readyz fails once no Kafka broker was reached for this long, or every partition was revoked "
              "this long without a new assignment.",
       .bind = field([](auto& c) -> auto& { return c.admin.ready_broker_timeout; })});
  return rows;
}

}  // namespace

std::string_view KeyRow::name() const {
  size_t dot = path.rfind('.');
  return dot == std::string_view::npos ? path : path.substr(dot + 1);
}

std::string_view KeyRow::parent() const {
  size_t dot = path.rfind('.');
  return dot == std::string_view::npos ? std::string_view() : path.substr(0, dot);
}

const KeyTable& key_table() {
  static const KeyTable table = build_table();
  return table;
}

std::string_view type_name(KeyType type) {
  switch (type) {
    case KeyType::String:
      return "string";
    case KeyType::Int:
      return "integer";
    case KeyType::Bool:
      return "bool";
    case KeyType::Duration:
      return "duration";
    case KeyType::Enum:
      return "enum";
    case KeyType::StringList:
      return "list of strings";
    case KeyType::DurationList:
      return "list of durations";
    case KeyType::StringMap:
      return "map of strings";
    case KeyType::ObjectList:
      return "list of objects";
    case KeyType::Object:
      return "object";
  }
  return "?";
}

}  // namespace sluice::config
