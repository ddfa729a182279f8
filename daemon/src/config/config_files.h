#pragma once
// The files a configuration is read from and points at: the config file's own size limit,
// relative paths resolved against the config file's directory, and checks that the files a
// client will open (TLS CAs, certificates, keys) are there and readable.
//
// Paths are resolved once, while loading, so the immutable Config holds absolute paths and
// nothing later depends on the working directory. A config without a file (the embedded
// defaults) has no directory: its relative paths stay relative to the working directory.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "config/validate.h"

namespace sluice::config {

// The largest config file accepted, checked before it is read: a real one is a few KiB, and
// YAML parsing takes about 50 times a file's size in memory.
constexpr size_t kMaxConfigFileBytes = 4 * 1024 * 1024;

// The absolute directory of `config_path`, which relative paths in it resolve against.
std::string directory_of(const std::string& config_path);

// `path` made absolute against `base_dir`; unchanged when it is empty, already absolute, or
// `base_dir` is empty (no config file).
std::string resolve_path(std::string_view base_dir, const std::string& path);

// librdkafka properties whose value is a file (ssl.ca.location, ssl.key.location, ...).
bool is_kafka_file_property(std::string_view name);

// Resolves the file-valued entries of kafka.properties, consumer_properties and
// producer_properties against `base_dir`.
void resolve_kafka_file_properties(KafkaConfig& kafka, std::string_view base_dir);

// Every file a client opens at start (each route's tls.ca_file, the file-valued librdkafka
// properties) must exist and be readable; each one that is not is a Problem.
void check_referenced_files(const Config& config, std::vector<Problem>& problems);

}  // namespace sluice::config
