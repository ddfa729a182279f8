#pragma once
// Text rendered from the key table: the Markdown reference (config/REFERENCE.md) and the
// effective configuration as YAML with sensitive values redacted (for logs and the admin
// /config_dump). Both are pure functions of their inputs.

#include <string>
#include <string_view>

#include "config/config.h"
#include "config/key_table.h"

namespace sluice::config {

// config/REFERENCE.md, byte for byte.
std::string render_reference_markdown();

// Every key with its effective value, as YAML that loads back to the same Config (a `$` is
// written as `$$`). Values of sensitive keys, and of librdkafka properties whose names look
// secret, are written as "<redacted>".
std::string render_effective_yaml(const Config& config);
std::string render_effective_yaml(const Config& config, const KeyTable& table);

// True for librdkafka property names whose values are secrets (passwords, keys, tokens).
bool is_secret_property(std::string_view name);

}  // namespace sluice::config
