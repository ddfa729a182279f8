#include "bench/bench_config.h"

#include <stdexcept>

#include "support/process.h"

namespace sluice::bench {

std::string shipped_config(const SluiceSettings& settings) {
  std::string yaml = test::read_file(SLUICE_SOURCE_DIR "/config/sluice.yaml");
  auto replace = [&](const std::string& from, const std::string& to) {
    size_t at = yaml.find(from);
    if (at == std::string::npos) throw std::runtime_error("config/sluice.yaml has no '" + from + "' any more");
    yaml.replace(at, from.size(), to);
  };
  // The file is written elsewhere, so its relative paths are made absolute.
  replace("schemas_dir: schemas", "schemas_dir: " SLUICE_SOURCE_DIR "/config/schemas");
  replace("blocked_senders_file: blocked_senders.txt",
          "blocked_senders_file: " SLUICE_SOURCE_DIR "/config/blocked_senders.txt");
  replace("listen: 0.0.0.0:9464", "listen: 127.0.0.1:0");
  replace("  consumer_properties: {}", "  consumer_properties:\n    auto.offset.reset: error");
  replace("    backend: sqlite", "    backend: " + settings.dedup);
  if (!settings.redis_url.empty()) replace("redis_url: redis://127.0.0.1:6379/0", "redis_url: " + settings.redis_url);
  if (settings.exactly_once) replace("  delivery: at_least_once", "  delivery: exactly_once");
  if (settings.key_order) replace("  ordering: none\n", "  ordering: key\n");
  if (settings.fetch_wait_ms >= 0) {
    replace("  properties: {}", "  properties:\n    fetch.wait.max.ms: " + std::to_string(settings.fetch_wait_ms));
  }
  if (!settings.http_url.empty()) {
    const std::string http =
        "\n    http: {url: \"" + settings.http_url + "\", pipeline_depth: " + std::to_string(settings.pipeline_depth) +
        (settings.http_batch.empty() ? "" : ", batch: " + settings.http_batch) + "}\n";
    replace("  - match: {channel: email}\n    topic: clean.email\n  - match: {channel: whatsapp}\n    topic: "
            "clean.whatsapp\n",
            "  - match: {channel: email}" + http + "  - match: {channel: whatsapp}" + http);
  }
  return yaml;
}

}  // namespace sluice::bench
