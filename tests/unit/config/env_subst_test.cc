#include "config/env_subst.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <map>
#include <string>

namespace sluice::config {
namespace {

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

const EnvLookup kEnv = env_of({{"HOST", "kafka-1"}, {"PORT", "9092"}, {"EMPTY", ""}, {"DOLLAR", "a$b${HOST}"}});

std::string expanded(std::string_view scalar) {
  Expanded result = expand_env(scalar, kEnv);
  INFO(result.error);
  REQUIRE(result.ok());
  return result.text;
}

std::string error_of(std::string_view scalar) {
  Expanded result = expand_env(scalar, kEnv);
  REQUIRE_FALSE(result.ok());
  return result.error;
}

TEST_CASE("text without references is unchanged", "[config][env]") {
  CHECK(expanded("") == "");
  CHECK(expanded("plain text: {not yaml}") == "plain text: {not yaml}");
  CHECK(expanded("cost $5, $HOST, trailing $") == "cost $5, $HOST, trailing $");
}

TEST_CASE("${VAR} takes the variable's value, even an empty one", "[config][env]") {
  CHECK(expanded("${HOST}") == "kafka-1");
  CHECK(expanded("${HOST}:${PORT}") == "kafka-1:9092");
  CHECK(expanded("[${EMPTY}]") == "[]");
}

TEST_CASE("${VAR:-default} falls back when unset or empty", "[config][env]") {
  CHECK(expanded("${HOST:-other}") == "kafka-1");
  CHECK(expanded("${MISSING:-127.0.0.1:9092}") == "127.0.0.1:9092");
  CHECK(expanded("${EMPTY:-fallback}") == "fallback");
  CHECK(expanded("${MISSING:-}") == "");
  CHECK(expanded("${MISSING:-${HOST}:${PORT}}/x") == "kafka-1:9092/x");
  CHECK(expanded("${MISSING:-${ALSO_MISSING:-deep}}") == "deep");
}

TEST_CASE("${VAR:?message} fails with the message when unset or empty", "[config][env]") {
  CHECK(expanded("${HOST:?needed}") == "kafka-1");
  CHECK(error_of("${MISSING:?set MISSING to the broker list}") ==
        "${MISSING} is not set or empty: set MISSING to the broker list");
  CHECK(error_of("${EMPTY:?}") == "${EMPTY} is not set or empty");
}

TEST_CASE("an unset ${VAR} without a default is an error", "[config][env]") {
  CHECK(error_of("x-${MISSING}") == "${MISSING} is not set and has no default (write ${MISSING:-default} to give one)");
}

TEST_CASE("$$ is a literal dollar", "[config][env]") {
  CHECK(expanded("$$") == "$");
  CHECK(expanded("$${HOST}") == "${HOST}");
  CHECK(expanded("$$$${HOST}") == "$${HOST}");
  CHECK(expanded("$$${HOST}") == "$kafka-1");
}

TEST_CASE("values from the environment are not expanded again", "[config][env]") {
  CHECK(expanded("${DOLLAR}") == "a$b${HOST}");
}

TEST_CASE("malformed references are errors that list the accepted forms", "[config][env]") {
  const std::string forms = "(use ${VAR}, ${VAR:-default} or ${VAR:?message}, and $$ for a literal $)";
  CHECK(error_of("${HOST") == "\"${\" without a closing \"}\" " + forms);
  CHECK(error_of("${}") == "\"${}\" does not start with a variable name " + forms);
  CHECK(error_of("${1X}") == "\"${1X}\" does not start with a variable name " + forms);
  CHECK(error_of("${HOST-x}") == "\"${HOST-x}\" is not a supported form " + forms);
  CHECK(error_of("${HOST:+x}") == "\"${HOST:+x}\" is not a supported form " + forms);
}

TEST_CASE("escape_env round-trips through expand_env", "[config][env]") {
  for (std::string_view text : {"", "plain", "$", "$$", "${HOST}", "a$b$${c}$"}) {
    CHECK(expanded(escape_env(text)) == text);
  }
}

TEST_CASE("process_env reads the real environment", "[config][env]") {
  ::setenv("SLUICE_CONFIG_TEST_VAR", "from-process", 1);
  EnvLookup env = process_env();
  CHECK(env("SLUICE_CONFIG_TEST_VAR") == std::optional<std::string>("from-process"));
  ::unsetenv("SLUICE_CONFIG_TEST_VAR");
  CHECK_FALSE(env("SLUICE_CONFIG_TEST_VAR").has_value());
}

}  // namespace
}  // namespace sluice::config
