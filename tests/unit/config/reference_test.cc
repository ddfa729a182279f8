#include "config/reference.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "config/loader.h"

namespace sluice::config {
namespace {

using Errors = std::vector<std::string>;

const EnvLookup kNoEnv = [](std::string_view) -> std::optional<std::string> { return std::nullopt; };

const std::string kReferencePath = std::string(SLUICE_SOURCE_DIR) + "/config/REFERENCE.md";

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST_CASE("config/REFERENCE.md is the reference rendered from the key table", "[config][reference]") {
  std::string generated = render_reference_markdown();
  if (const char* update = std::getenv("SLUICE_UPDATE_REFERENCE"); update != nullptr && std::string(update) == "1") {
    std::ofstream(kReferencePath, std::ios::binary) << generated;
  }
  std::string on_disk = read_file(kReferencePath);
  INFO("config/REFERENCE.md is out of date with daemon/src/config/key_table.cc. Regenerate it with\n"
       "  SLUICE_UPDATE_REFERENCE=1 <build-dir>/bin/unit_config '[config][reference]'\n"
       "(or `sluice config-reference > config/REFERENCE.md`) and review the diff.");
  CHECK(on_disk == generated);
}

TEST_CASE("the reference has one table row per key", "[config][reference]") {
  std::string markdown = render_reference_markdown();
  for (const KeyRow& row : key_table()) {
    INFO(row.path);
    CHECK(markdown.find("| `" + std::string(row.path) + "` |") != std::string::npos);
  }
  CHECK(markdown.find("| `pipeline.batch_size` | integer | `1000` | 1..100000 |") != std::string::npos);
  CHECK(markdown.find("| `pipeline.dedup.backend` | enum | `sqlite` | `memory`, `sqlite`, `redis` |") != std::string::npos);
  CHECK(markdown.find("| `kafka.commit_interval` | duration | `1s` | 10ms..1h |") != std::string::npos);
  CHECK(markdown.find("| `routes[].http.url` | string | required |") != std::string::npos);
}

TEST_CASE("the effective YAML loads back to the same configuration", "[config][reference]") {
  LoadResult first = load_string(
      "kafka:\n"
      "  client_id: id-$$literal\n"
      "  consumer_properties: {fetch.wait.max.ms: '50', isolation.level: read_committed}\n"
      "inbound:\n"
      "  topics: [a, b]\n"
      "pipeline:\n"
      "  filter: {spam_keywords: [], rejected_topic: rejected}\n"
      "  dedup: {backend: memory, window: 90m}\n"
      "routes:\n"
      "  - match: {message_type: order}\n"
      "    topic: orders\n"
      "  - match: {channel: email, message_type: receipt}\n"
      "    topic: receipts\n"
      "logging: {format: text, level: warn}\n",
      "first.yaml", kNoEnv);
  REQUIRE(first.errors == Errors{});
  std::string dump = render_effective_yaml(*first.config);
  LoadResult second = load_string(dump, "dump.yaml", kNoEnv);
  INFO(dump);
  REQUIRE(second.errors == Errors{});
  CHECK(render_effective_yaml(*second.config) == dump);

  const Config& c = *second.config;
  CHECK(c.kafka.client_id == "id-$literal");
  CHECK(c.kafka.consumer_properties.at("fetch.wait.max.ms") == "50");
  CHECK(c.pipeline.filter.spam_keywords.empty());
  CHECK(c.pipeline.dedup.backend == DedupBackend::Memory);
  CHECK(c.pipeline.dedup.window == std::chrono::minutes(90));
  REQUIRE(c.routes.size() == 2);
  CHECK_FALSE(c.routes[0].match.channel.has_value());
  CHECK(c.routes[1].match.message_type == "receipt");
  CHECK(c.logging.format == LogFormat::Text);
  CHECK(dump.find("window: 90m\n") != std::string::npos);
  CHECK(dump.find("spam_keywords: []\n") != std::string::npos);
}

TEST_CASE("secret librdkafka properties are redacted in the effective YAML", "[config][reference][sensitive]") {
  LoadResult result = load_string(
      "kafka:\n"
      "  properties:\n"
      "    sasl.username: sluice\n"
      "    sasl.password: hunter2\n"
      "  producer_properties:\n"
      "    ssl.key.password: k3y-pass\n"
      "    ssl.key.pem: PEMDATA\n",
      "t.yaml", kNoEnv);
  REQUIRE(result.errors == Errors{});
  std::string dump = render_effective_yaml(*result.config);
  CHECK(dump.find("sasl.password: \"<redacted>\"") != std::string::npos);
  CHECK(dump.find("ssl.key.password: \"<redacted>\"") != std::string::npos);
  CHECK(dump.find("sasl.username: sluice") != std::string::npos);
  CHECK(dump.find("hunter2") == std::string::npos);
  CHECK(dump.find("k3y-pass") == std::string::npos);
  CHECK(dump.find("PEMDATA") == std::string::npos);
  // The configuration itself keeps the real values.
  CHECK(result.config->kafka.properties.at("sasl.password") == "hunter2");
}

TEST_CASE("secret property names", "[config][reference][sensitive]") {
  for (std::string_view name : {"sasl.password", "ssl.key.password", "ssl.keystore.password", "ssl.key.pem",
                                "sasl.oauthbearer.client.secret", "sasl.oauthbearer.config", "SASL.PASSWORD"}) {
    INFO(name);
    CHECK(is_secret_property(name));
  }
  for (std::string_view name : {"sasl.username", "security.protocol", "ssl.key.location", "acks"}) {
    INFO(name);
    CHECK_FALSE(is_secret_property(name));
  }
}

TEST_CASE("a sensitive key's whole value is redacted", "[config][reference][sensitive]") {
  std::string secret = "s3cret";
  KeyTable table;
  table.push_back({.path = "auth", .type = KeyType::Object, .doc = "test section"});
  Binding binding;
  binding.store = [&secret](Config&, size_t, Value&& value) { secret = std::get<std::string>(value); };
  binding.read = [&secret](const Config&, size_t) { return Value(secret); };
  table.push_back({.path = "auth.token",
                   .type = KeyType::String,
                   .flags = {.sensitive = true},
                   .doc = "a token",
                   .bind = binding});
  Config config;
  std::string dump = render_effective_yaml(config, table);
  CHECK(dump == "auth:\n  token: \"<redacted>\"\n");
}

}  // namespace
}  // namespace sluice::config
