// The vocabulary of outcomes and reasons: one table, labels that name one reason each, and
// every reason documented for users.

#include <catch2/catch.hpp>

#include <fstream>
#include <set>
#include <sstream>

#include "common/outcome.h"

using namespace sluice;

TEST_CASE("each reason has one label, found again by that label, and belongs to one outcome", "[common][outcome]") {
  std::set<std::string_view> labels;
  for (const ReasonInfo& info : kReasons) {
    INFO(info.label);
    CHECK(labels.insert(info.label).second);
    CHECK(reason_by_label(info.label) == info.reason);
    CHECK(reason_label(info.reason) == info.label);
    CHECK(info.reason == info.label);
    CHECK(!info.meaning.empty());
  }
  CHECK_FALSE(reason_by_label("no_such_reason"));
  CHECK(outcome_of(Reason::InvalidJson) == Outcome::DeadLettered);
  CHECK(outcome_of(Reason::Spam) == Outcome::Filtered);
  CHECK(outcome_name(outcome_of(Reason::SeenWithinWindow)) == "duplicate");
}

TEST_CASE("the README names every reason users can meet in a metric or a DLQ record", "[common][outcome]") {
  std::ifstream file(SLUICE_SOURCE_DIR "/README.md");
  std::stringstream text;
  text << file.rdbuf();
  REQUIRE_FALSE(text.str().empty());
  for (const ReasonInfo& info : kReasons) {
    INFO(info.label);
    CHECK(text.str().find("`" + std::string(info.label) + "`") != std::string::npos);
  }
}
