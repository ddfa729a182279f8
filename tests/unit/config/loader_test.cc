#include "config/loader.h"

#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace sluice::config {
namespace {

using namespace std::chrono_literals;
using Errors = std::vector<std::string>;

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

const EnvLookup kNoEnv = env_of({});

LoadResult load(std::string_view yaml, const EnvLookup& env = kNoEnv) { return load_string(yaml, "t.yaml", env); }

Errors errors_of(std::string_view yaml, const EnvLookup& env = kNoEnv) { return load(yaml, env).errors; }

TEST_CASE("defaults load without a file and match the documented values", "[config][loader]") {
  LoadResult result = load_defaults(kNoEnv);
  REQUIRE(result.errors == Errors{});
  REQUIRE(result.ok());
  const Config& c = *result.config;
  CHECK(c.source_path.empty());
  CHECK(c.kafka.brokers == "127.0.0.1:9092");
  CHECK(c.kafka.group_id == "sluice");
  CHECK(c.kafka.client_id == "sluice");
  CHECK(c.kafka.properties.empty());
  CHECK(c.kafka.consumer_properties.empty());
  CHECK(c.kafka.producer_properties.empty());
  CHECK(c.kafka.commit_interval == 1s);
  CHECK(c.inbound.topics == std::vector<std::string>{"inbound.email", "inbound.whatsapp"});
  CHECK(c.pipeline.max_message_bytes == 1'048'576);
  CHECK(c.pipeline.max_json_depth == 64);
  CHECK(c.pipeline.schemas_dir == "config/schemas");
  CHECK(c.pipeline.batch_size == 1000);
  CHECK(c.pipeline.max_in_flight_records == 20'000);
  CHECK(c.pipeline.max_in_flight_bytes == 67'108'864);
  CHECK(c.pipeline.filter.blocked_senders_file == "config/blocked_senders.txt");
  CHECK(c.pipeline.filter.spam_keywords ==
        std::vector<std::string>{"free money", "click here", "urgent action required", "congratulations you won",
                                 "act now"});
  CHECK(c.pipeline.filter.rejected_topic.empty());
  CHECK(c.pipeline.dedup.backend == DedupBackend::Sqlite);
  CHECK(c.pipeline.dedup.window == 24h);
  CHECK(c.pipeline.dedup.sqlite_path == "/var/lib/sluice/dedup.db");
  CHECK(c.pipeline.dedup.memory_max_entries == 1'000'000);
  REQUIRE(c.routes.size() == 2);
  CHECK(c.routes[0].match.channel == "email");
  CHECK_FALSE(c.routes[0].match.message_type.has_value());
  CHECK(c.routes[0].topic == "clean.email");
  CHECK(c.routes[0].line == 0);
  CHECK(c.routes[1].match.channel == "whatsapp");
  CHECK(c.routes[1].topic == "clean.whatsapp");
  CHECK(c.dlq.topic == "dlq");
  CHECK(c.dlq.format == DlqFormat::Envelope);
  CHECK(c.shutdown.drain_timeout == 25s);
  CHECK(c.logging.level == "info");
  CHECK(c.logging.format == LogFormat::Json);
}

TEST_CASE("an empty file and a file of comments give the defaults", "[config][loader]") {
  for (std::string_view yaml : {"", "# nothing here\n", "---\n"}) {
    LoadResult result = load(yaml);
    INFO(yaml);
    REQUIRE(result.ok());
    CHECK(result.config->source_path == "t.yaml");
    CHECK(result.config->dlq.topic == "dlq");
    CHECK(result.config->routes.size() == 2);
  }
}

TEST_CASE("defaults read the environment like user values", "[config][loader][env]") {
  LoadResult result = load_defaults(env_of({{"KAFKA_BROKERS", "k1:9092,k2:9092"}, {"STATE_DIRECTORY", "/srv/state"}}));
  REQUIRE(result.ok());
  CHECK(result.config->kafka.brokers == "k1:9092,k2:9092");
  CHECK(result.config->pipeline.dedup.sqlite_path == "/srv/state/dedup.db");

  LoadResult empty = load_defaults(env_of({{"KAFKA_BROKERS", ""}}));
  REQUIRE(empty.ok());
  CHECK(empty.config->kafka.brokers == "127.0.0.1:9092");
}

TEST_CASE("values written in the file replace defaults, others keep theirs", "[config][loader]") {
  LoadResult result = load(
      "kafka:\n"
      "  group_id: g2\n"
      "  properties:\n"
      "    security.protocol: SASL_SSL\n"
      "    linger.ms: 5\n"
      "pipeline:\n"
      "  dedup:\n"
      "    backend: memory\n"
      "logging: {level: debug, format: text}\n");
  REQUIRE(result.errors == Errors{});
  const Config& c = *result.config;
  CHECK(c.kafka.group_id == "g2");
  CHECK(c.kafka.client_id == "sluice");
  CHECK(c.kafka.properties == StringMap{{"linger.ms", "5"}, {"security.protocol", "SASL_SSL"}});
  CHECK(c.pipeline.dedup.backend == DedupBackend::Memory);
  CHECK(c.pipeline.dedup.window == 24h);
  CHECK(c.pipeline.batch_size == 1000);
  CHECK(c.logging.level == "debug");
  CHECK(c.logging.format == LogFormat::Text);
}

TEST_CASE("a section written with no keys takes all its defaults", "[config][loader]") {
  LoadResult result = load("kafka:\npipeline:\n  filter:\n");
  REQUIRE(result.errors == Errors{});
  CHECK(result.config->kafka.group_id == "sluice");
  CHECK(result.config->pipeline.filter.spam_keywords.size() == 5);
}

TEST_CASE("durations accept every documented form", "[config][loader][duration]") {
  struct Case {
    const char* text;
    Duration expected;
  };
  for (const Case& c : {Case{"10s", 10s}, Case{"5m", 5min}, Case{"24h", 24h}, Case{"1h30m", 90min},
                        Case{"1d", 24h}, Case{"2d12h", 60h}}) {
    LoadResult result = load(std::string("pipeline: {dedup: {window: ") + c.text + "}}\n");
    INFO(c.text);
    REQUIRE(result.errors == Errors{});
    CHECK(result.config->pipeline.dedup.window == c.expected);
  }
  LoadResult result = load("kafka:\n  commit_interval: 500ms\nshutdown:\n  drain_timeout: 1m30s\n");
  REQUIRE(result.errors == Errors{});
  CHECK(result.config->kafka.commit_interval == 500ms);
  CHECK(result.config->shutdown.drain_timeout == 90s);
  LoadResult zero = load("shutdown:\n  drain_timeout: 0\n");
  REQUIRE(zero.errors == Errors{});
  CHECK(zero.config->shutdown.drain_timeout == 0ms);
}

TEST_CASE("unknown keys are errors that suggest the closest known key", "[config][loader][errors]") {
  CHECK(errors_of("kafka:\n  brokres: a:1\n") ==
        Errors{"t.yaml:2:3: kafka.brokres: unknown key; did you mean kafka.brokers?"});
  CHECK(errors_of("pipline:\n  batch_size: 5\n") == Errors{"t.yaml:1:1: pipline: unknown key; did you mean pipeline?"});
  CHECK(errors_of("routes:\n  - match: {chanel: email}\n    topic: t\n") ==
        Errors{"t.yaml:2:13: routes[0].match.chanel: unknown key; did you mean routes[0].match.channel?"});
  CHECK(errors_of("pipeline:\n  bach_sise: 5\n") ==
        Errors{"t.yaml:2:3: pipeline.bach_sise: unknown key; did you mean pipeline.batch_size?"});
  CHECK(errors_of("dlq:\n  name: x\n") == Errors{"t.yaml:2:3: dlq.name: unknown key; known keys here: topic, format"});
}

TEST_CASE("a key that is not a plain name is quoted and escaped in the key path", "[config][loader][errors]") {
  // A plain scalar key may start with ':' and span lines; printed raw it would break the
  // "file:line:col: key.path: message" shape.
  CHECK(errors_of("dlq:\n  \":x: y\\nz\": 1\n") ==
        Errors{"t.yaml:2:3: dlq.\":x: y\\nz\": unknown key; known keys here: topic, format"});
  CHECK(errors_of("\"bad key\": 1\n").front().starts_with("t.yaml:1:1: \"bad key\": unknown key"));
  CHECK(errors_of("routes:\n  - topic: t\n    match: {channel: email}\n    http_headers: 1\n\"\": 2\n").back().starts_with(
      "t.yaml:5:1: \"\": unknown key"));
}

TEST_CASE("a key is looked up only among its siblings", "[config][loader][errors]") {
  // A dotted name is one unknown key, not a path into the table.
  CHECK(errors_of("pipeline:\n  filter.rejected_topic: x\n") ==
        Errors{"t.yaml:2:3: pipeline.filter.rejected_topic: unknown key; known keys here: max_message_bytes, "
               "max_json_depth, value_framing, schemas_dir, batch_size, stage_thread, max_in_flight_records, max_in_flight_bytes, stall_timeout, filter, "
              "dedup"});
}

TEST_CASE("wrong types name what was expected and what was found", "[config][loader][errors]") {
  CHECK(errors_of("kafka:\n  brokers: {host: a}\n") ==
        Errors{"t.yaml:2:12: kafka.brokers: expected a string, found a map"});
  CHECK(errors_of("kafka:\n  brokers: [a, b]\n") ==
        Errors{"t.yaml:2:12: kafka.brokers: expected a string, found a list"});
  CHECK(errors_of("inbound:\n  topics: inbound.email\n") ==
        Errors{"t.yaml:2:11: inbound.topics: expected a list of strings, found the value \"inbound.email\" (write "
               "[inbound.email] for a list of one)"});
  CHECK(errors_of("pipeline:\n  batch_size: lots\n") ==
        Errors{"t.yaml:2:15: pipeline.batch_size: expected an integer, found \"lots\""});
  CHECK(errors_of("pipeline: 5\n") == Errors{"t.yaml:1:11: pipeline: expected a map, found the value \"5\""});
  CHECK(errors_of("- a\n- b\n") == Errors{"t.yaml:1:1: (top level): expected a map of sections, found a list"});
  CHECK(errors_of("routes: {match: {channel: a}, topic: b}\n") ==
        Errors{"t.yaml:1:9: routes: expected a list of maps, found a map"});
}

TEST_CASE("a key without a value is an error, not a silent default", "[config][loader][errors]") {
  CHECK(errors_of("kafka:\n  group_id:\n") ==
        Errors{"t.yaml:2:3: kafka.group_id: has no value (write \"\" for an empty string)"});
  CHECK(errors_of("pipeline:\n  batch_size: ~\n") == Errors{"t.yaml:2:3: pipeline.batch_size: has no value"});
}

TEST_CASE("values out of range give the range", "[config][loader][errors]") {
  CHECK(errors_of("pipeline:\n  batch_size: 0\n") ==
        Errors{"t.yaml:2:15: pipeline.batch_size: 0 is out of range 1..100000"});
  CHECK(errors_of("pipeline:\n  max_in_flight_bytes: 68719476737\n") ==
        Errors{"t.yaml:2:24: pipeline.max_in_flight_bytes: 68719476737 is out of range 1024..68719476736"});
  CHECK(errors_of("kafka:\n  commit_interval: 2h\n") ==
        Errors{"t.yaml:2:20: kafka.commit_interval: \"2h\" is out of range 10ms..1h"});
  CHECK(errors_of("pipeline:\n  dedup:\n    window: 366d\n") ==
        Errors{"t.yaml:3:13: pipeline.dedup.window: \"366d\" is out of range 1s..365d"});
  CHECK(errors_of("pipeline:\n  batch_size: 99999999999999999999\n") ==
        Errors{"t.yaml:2:15: pipeline.batch_size: expected an integer, found \"99999999999999999999\""});
}

TEST_CASE("bad durations list the accepted forms", "[config][loader][errors][duration]") {
  CHECK(errors_of("shutdown:\n  drain_timeout: 25\n") ==
        Errors{"t.yaml:2:18: shutdown.drain_timeout: \"25\" is not a duration; write a number and a unit (ms, s, m, "
               "h, d), e.g. 500ms, 10s, 5m, 24h or 1h30m"});
  CHECK(errors_of("shutdown:\n  drain_timeout: 5 minutes\n").size() == 1);
  CHECK(errors_of("shutdown:\n  drain_timeout: -5s\n").size() == 1);
}

TEST_CASE("bad enum values list the allowed ones", "[config][loader][errors]") {
  CHECK(errors_of("pipeline:\n  dedup:\n    backend: mongodb\n") ==
        Errors{"t.yaml:3:14: pipeline.dedup.backend: \"mongodb\" is not one of: memory, sqlite, redis"});
  CHECK(errors_of("logging:\n  level: INFO\n") ==
        Errors{"t.yaml:2:10: logging.level: \"INFO\" is not one of: debug, info, warn, error"});
  CHECK(errors_of("dlq:\n  format: json\n") ==
        Errors{"t.yaml:2:11: dlq.format: \"json\" is not one of: envelope, raw"});
  LoadResult raw = load("dlq:\n  format: raw\n");
  REQUIRE(raw.ok());
  CHECK(raw.config->dlq.format == DlqFormat::Raw);
}

TEST_CASE("duplicate keys are reported with the first occurrence", "[config][loader][errors]") {
  CHECK(errors_of("dlq:\n  topic: a\n  topic: b\n") ==
        Errors{"t.yaml:3:3: dlq.topic: duplicate key (first at line 2)"});
  CHECK(errors_of("kafka: {}\nkafka: {}\n") == Errors{"t.yaml:2:1: kafka: duplicate key (first at line 1)"});
  CHECK(errors_of("kafka:\n  properties:\n    acks: all\n    acks: 1\n") ==
        Errors{"t.yaml:4:5: kafka.properties.acks: duplicate key"});
}

TEST_CASE("yaml syntax errors and unreadable files", "[config][loader][errors]") {
  CHECK(errors_of("kafka:\n  brokers: [a, b\n") ==
        Errors{"t.yaml:3:1: yaml: end of sequence flow not found"});
  CHECK(errors_of("a: 1\n---\nb: 2\n") ==
        Errors{"t.yaml:3:1: yaml: a config file holds one document; a second one starts here"});
  // A stray comma outside a flow collection once made the YAML reader produce empty documents
  // forever; it is an error at its position.
  CHECK(errors_of(",afka:\n") == Errors{"t.yaml:1:1: yaml: unexpected ','"});
  CHECK_FALSE(errors_of("{a: 1}, x\n").empty());

  LoadResult missing = load_file("/nonexistent/sluice.yaml", kNoEnv);
  CHECK_FALSE(missing.ok());
  CHECK(missing.errors == Errors{"/nonexistent/sluice.yaml: cannot read: No such file or directory"});
  LoadResult directory = load_file("/", kNoEnv);
  CHECK(directory.errors == Errors{"/: cannot read: Is a directory"});
}

TEST_CASE("load_file reads the file and names it in errors", "[config][loader]") {
  std::string path = std::string(SLUICE_BINARY_DIR) + "/loader_test_file.yaml";
  {
    std::ofstream out(path);
    out << "dlq:\n  topic: dead.letters\n  extra: 1\n";
  }
  LoadResult bad = load_file(path, kNoEnv);
  CHECK(bad.errors == Errors{path + ":3:3: dlq.extra: unknown key; known keys here: topic, format"});
  {
    std::ofstream out(path);
    out << "dlq:\n  topic: dead.letters\n";
  }
  LoadResult good = load_file(path, kNoEnv);
  REQUIRE(good.ok());
  CHECK(good.config->dlq.topic == "dead.letters");
  CHECK(good.config->source_path == path);
  std::remove(path.c_str());
}

TEST_CASE("every error in a file is reported, in file order", "[config][loader][errors]") {
  Errors errors = errors_of(
      "kafka:\n"
      "  commit_interval: soon\n"  // line 2: bad duration
      "pipeline:\n"
      "  batch_size: 0\n"  // line 4: out of range
      "  dedup:\n"
      "    backend: mongodb\n"  // line 6: bad enum
      "logging:\n"
      "  colour: true\n");  // line 8: unknown key
  REQUIRE(errors.size() == 4);
  CHECK(errors[0].starts_with("t.yaml:2:20: kafka.commit_interval: \"soon\" is not a duration"));
  CHECK(errors[1] == "t.yaml:4:15: pipeline.batch_size: 0 is out of range 1..100000");
  CHECK(errors[2] == "t.yaml:6:14: pipeline.dedup.backend: \"mongodb\" is not one of: memory, sqlite, redis");
  CHECK(errors[3] == "t.yaml:8:3: logging.colour: unknown key; known keys here: level, format, include_payloads");
}

TEST_CASE("a value containing YAML syntax stays one string", "[config][loader][env]") {
  LoadResult result = load("kafka:\n  client_id: ${CLIENT}\n",
                           env_of({{"CLIENT", "x\ngroup_id: injected\n[1, 2]: {a: b}"}}));
  REQUIRE(result.ok());
  CHECK(result.config->kafka.client_id == "x\ngroup_id: injected\n[1, 2]: {a: b}");
  CHECK(result.config->kafka.group_id == "sluice");
}

TEST_CASE("environment references in values", "[config][loader][env]") {
  EnvLookup env = env_of({{"BROKERS", "b1:9092"}, {"EMPTY", ""}, {"POD", "pod-7"}, {"PASSWORD", "p$w"}});
  LoadResult result = load(
      "kafka:\n"
      "  brokers: ${BROKERS}\n"
      "  group_id: ${UNSET:-fallback}\n"
      "  client_id: sluice-${EMPTY:-none}-${POD}-$$HOME\n"
      "  properties:\n"
      "    sasl.password: ${PASSWORD}\n"
      "inbound:\n"
      "  topics: [\"in.${POD}\", \"x.${UNSET:-${POD}}\"]\n",
      env);
  REQUIRE(result.errors == Errors{});
  const Config& c = *result.config;
  CHECK(c.kafka.brokers == "b1:9092");
  CHECK(c.kafka.group_id == "fallback");
  CHECK(c.kafka.client_id == "sluice-none-pod-7-$HOME");
  CHECK(c.kafka.properties.at("sasl.password") == "p$w");
  CHECK(c.inbound.topics == std::vector<std::string>{"in.pod-7", "x.pod-7"});
}

TEST_CASE("environment errors name the key and where it is", "[config][loader][env][errors]") {
  CHECK(errors_of("kafka:\n  brokers: ${NOPE}\n") ==
        Errors{"t.yaml:2:12: kafka.brokers: ${NOPE} is not set and has no default (write ${NOPE:-default} to give "
               "one)"});
  CHECK(errors_of("kafka:\n  properties:\n    sasl.password: ${PW:?set PW to the broker password}\n",
                  env_of({{"PW", ""}})) ==
        Errors{"t.yaml:3:20: kafka.properties.sasl.password: ${PW} is not set or empty: set PW to the broker "
               "password"});
  CHECK(errors_of("inbound:\n  topics: [a, \"${X\"]\n") ==
        Errors{"t.yaml:2:15: inbound.topics[1]: \"${\" without a closing \"}\" (use ${VAR}, ${VAR:-default} or "
               "${VAR:?message}, and $$ for a literal $)"});
}

TEST_CASE("environment values are checked like written values", "[config][loader][env][errors]") {
  CHECK(errors_of("pipeline:\n  batch_size: ${BATCH}\n", env_of({{"BATCH", "0"}})) ==
        Errors{"t.yaml:2:15: pipeline.batch_size: 0 is out of range 1..100000"});
  LoadResult result = load("pipeline:\n  batch_size: ${BATCH:-250}\n");
  REQUIRE(result.ok());
  CHECK(result.config->pipeline.batch_size == 250);
}

TEST_CASE("routes keep their order, fields and starting lines", "[config][loader][routes]") {
  LoadResult result = load(
      "routes:\n"
      "  - match: {channel: email, message_type: receipt}\n"
      "    topic: clean.email.receipts\n"
      "\n"
      "  - match:\n"
      "      message_type: order\n"
      "    topic: clean.orders\n"
      "  - topic: clean.whatsapp\n"
      "    match: {channel: whatsapp}\n");
  REQUIRE(result.errors == Errors{});
  const std::vector<RouteConfig>& routes = result.config->routes;
  REQUIRE(routes.size() == 3);
  CHECK(routes[0].match.channel == "email");
  CHECK(routes[0].match.message_type == "receipt");
  CHECK(routes[0].topic == "clean.email.receipts");
  CHECK(routes[0].line == 2);
  CHECK_FALSE(routes[1].match.channel.has_value());
  CHECK(routes[1].match.message_type == "order");
  CHECK(routes[1].line == 5);
  CHECK(routes[2].match.channel == "whatsapp");
  CHECK_FALSE(routes[2].match.message_type.has_value());
  CHECK(routes[2].line == 8);
}

TEST_CASE("route errors point at the route", "[config][loader][routes][errors]") {
  CHECK(errors_of("routes:\n  - match: {channel: email}\n") ==
        Errors{"t.yaml:2:5: routes[0]: needs a topic or an http endpoint"});
  CHECK(errors_of("routes:\n  - topic: t\n") == Errors{"t.yaml:2:5: routes[0].match: required key is missing"});
  CHECK(errors_of("routes:\n  - topic: t\n    match: {}\n") ==
        Errors{"t.yaml:3:12: routes[0].match: needs channel, message_type, or both"});
  CHECK(errors_of("routes:\n  - match: {channel: email}\n    topic: t\n    priority: 1\n") ==
        Errors{"t.yaml:4:5: routes[0].priority: unknown key; known keys here: match, topic, http, ordering, rate_limit, errors"});
  CHECK(errors_of("routes: []\n") == Errors{"t.yaml:1:9: routes: needs at least one entry"});
  CHECK(errors_of("routes:\n  - clean.email\n") ==
        Errors{"t.yaml:2:5: routes[0]: expected a map, found the value \"clean.email\""});
  CHECK(errors_of("routes:\n  - match: {channel: \"\"}\n    topic: t\n") ==
        Errors{"t.yaml:2:22: routes[0].match.channel: must not be empty"});
}

TEST_CASE("empty and invalid topic names", "[config][loader][errors]") {
  CHECK(errors_of("inbound:\n  topics: []\n") == Errors{"t.yaml:2:11: inbound.topics: needs at least one entry"});
  CHECK(errors_of("dlq:\n  topic: \"\"\n") == Errors{"t.yaml:2:10: dlq.topic: must not be empty"});
  CHECK(errors_of("dlq:\n  topic: dead letters\n") ==
        Errors{"t.yaml:2:10: dlq.topic: \"dead letters\" is not a valid Kafka topic name (1 to 249 of a-z, A-Z, "
               "0-9, '.', '_', '-'; not \".\" or \"..\")"});
  CHECK(errors_of("inbound:\n  topics: [a, \"..\"]\n").size() == 1);
  CHECK(errors_of("routes:\n  - match: {channel: a}\n    topic: " + std::string(250, 'x') + "\n").size() == 1);
  CHECK(errors_of("routes:\n  - match: {channel: a}\n    topic: " + std::string(249, 'x') + "\n").empty());
  // An empty rejected_topic means "none" and is not a topic name.
  CHECK(errors_of("pipeline:\n  filter:\n    rejected_topic: \"\"\n").empty());
}

TEST_CASE("librdkafka property values must be scalars", "[config][loader][errors]") {
  CHECK(errors_of("kafka:\n  properties:\n    ssl:\n      ca.location: /x\n") ==
        Errors{"t.yaml:4:7: kafka.properties.ssl: expected a string, found a map (write a dotted property name as "
               "one key, e.g. ssl.ca.location: ...)"});
  CHECK(errors_of("kafka:\n  producer_properties:\n    acks: [all]\n") ==
        Errors{"t.yaml:3:11: kafka.producer_properties.acks: expected a string, found a list"});
  CHECK(errors_of("kafka:\n  consumer_properties:\n    fetch.wait.max.ms:\n") ==
        Errors{"t.yaml:3:5: kafka.consumer_properties.fetch.wait.max.ms: has no value"});
}

// A table with the key types and flags the daemon's table has no key for yet, bound to
// variables of the test.
struct Probe {
  bool flag = false;
  std::string secret;
};

KeyTable probe_table(Probe& probe) {
  KeyTable table;
  table.push_back({.path = "probe", .type = KeyType::Object, .doc = "test section"});
  Binding flag;
  flag.store = [&probe](Config&, size_t, Value&& value) { probe.flag = std::get<bool>(value); };
  flag.read = [&probe](const Config&, size_t) { return Value(probe.flag); };
  table.push_back({.path = "probe.flag", .type = KeyType::Bool, .default_text = "false", .doc = "a bool", .bind = flag});
  Binding secret;
  secret.store = [&probe](Config&, size_t, Value&& value) { probe.secret = std::get<std::string>(value); };
  secret.read = [&probe](const Config&, size_t) { return Value(probe.secret); };
  table.push_back({.path = "probe.secret",
                   .type = KeyType::String,
                   .flags = {.required = true, .sensitive = true},
                   .doc = "a required secret",
                   .bind = secret});
  return table;
}

TEST_CASE("bool keys accept only true and false", "[config][loader][bool]") {
  Probe probe;
  KeyTable table = probe_table(probe);
  LoadResult on = load_string_with_table(table, "probe: {flag: true, secret: s}\n", "p.yaml", kNoEnv);
  REQUIRE(on.ok());
  CHECK(probe.flag);
  LoadResult off = load_string_with_table(table, "probe: {flag: false, secret: s}\n", "p.yaml", kNoEnv);
  REQUIRE(off.ok());
  CHECK_FALSE(probe.flag);
  probe.flag = true;
  REQUIRE(load_string_with_table(table, "probe: {secret: s}\n", "p.yaml", kNoEnv).ok());
  CHECK_FALSE(probe.flag);
  CHECK(load_string_with_table(table, "probe: {flag: yes, secret: s}\n", "p.yaml", kNoEnv).errors ==
        Errors{"p.yaml:1:15: probe.flag: expected true or false, found \"yes\""});
}

TEST_CASE("a required key without a default must be written", "[config][loader][errors]") {
  Probe probe;
  KeyTable table = probe_table(probe);
  CHECK(load_string_with_table(table, "probe:\n  flag: true\n", "p.yaml", kNoEnv).errors ==
        Errors{"p.yaml:2:3: probe.secret: required key is missing"});
  CHECK(load_string_with_table(table, "", "p.yaml", kNoEnv).errors ==
        Errors{"p.yaml:1:1: probe.secret: required key is missing"});
}

}  // namespace
}  // namespace sluice::config
