#include "config/config_diff.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "config/loader.h"

namespace sluice::config {
namespace {

using Keys = std::vector<std::string>;

std::shared_ptr<const Config> load(const std::string& yaml) {
  LoadResult loaded = load_string(yaml, "t.yaml", [](std::string_view) { return std::optional<std::string>(); });
  INFO(yaml);
  for (const std::string& error : loaded.errors) UNSCOPED_INFO(error);
  REQUIRE(loaded.ok());
  return loaded.config;
}

const char* const kBase =
    "kafka: {brokers: 'a:9092'}\n"
    "routes:\n"
    "  - {match: {channel: email}, topic: out.email}\n"
    "  - {match: {channel: whatsapp}, http: {url: 'http://127.0.0.1:8080/in'}}\n";

}  // namespace

TEST_CASE("an unchanged config has no changed keys", "[config]") {
  CHECK(changed_keys(*load(kBase), *load(kBase)).empty());
}

TEST_CASE("changed keys are named by path, with list entries by index", "[config]") {
  std::string after = std::string(kBase) +
                      "pipeline: {filter: {spam_keywords: [casino]}, max_message_bytes: 2048}\n"
                      "shutdown: {drain_timeout: 5s}\n";
  after.replace(after.find("http://127.0.0.1:8080/in"), 24, "http://127.0.0.1:9090/in");
  CHECK(changed_keys(*load(kBase), *load(after)) ==
        Keys{"pipeline.max_message_bytes", "pipeline.filter.spam_keywords", "routes[1].http.url",
             "shutdown.drain_timeout"});
}

TEST_CASE("a list that grows is named once, not entry by entry", "[config]") {
  std::string after = std::string(kBase) + "  - {match: {channel: email, message_type: bounce}, topic: out.rest}\n";
  CHECK(changed_keys(*load(kBase), *load(after)) == Keys{"routes"});
}

TEST_CASE("a changed secret is named but its value never appears", "[config]") {
  std::string before = std::string(kBase) + "pipeline: {dedup: {backend: redis, redis_url: 'redis://:one@h:6379'}}\n";
  std::string after = std::string(kBase) + "pipeline: {dedup: {backend: redis, redis_url: 'redis://:two@h:6379'}}\n";
  Keys keys = changed_keys(*load(before), *load(after));
  CHECK(keys == Keys{"pipeline.dedup.redis_url"});
}

TEST_CASE("only the stage resources' keys are reloadable", "[config]") {
  CHECK(reloadable_key("pipeline.schemas_dir"));
  CHECK(reloadable_key("pipeline.filter.blocked_senders_file"));
  CHECK(reloadable_key("pipeline.filter.spam_keywords"));
  CHECK_FALSE(reloadable_key("pipeline.filter.rejected_topic"));
  CHECK_FALSE(reloadable_key("kafka.brokers"));
  CHECK_FALSE(reloadable_key("routes"));
  CHECK_FALSE(reloadable_key("shutdown.drain_timeout"));
}

}  // namespace sluice::config
