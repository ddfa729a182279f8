#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "stages/schema_registry.h"
#include "stages/sender_list.h"
#include "support/process.h"
#include "support/temp_dir.h"

using namespace sluice::stages;

TEST_CASE("sender file lines: comments, blanks and whitespace are ignored", "[stages][senders]") {
  std::vector<std::string> errors;
  std::string text =
      "# header comment\n"
      "\n"
      "  spammer@example.com  \n"
      "\tbulk@promo.example.net\r\n"
      "15550000000  # a WhatsApp id\n"
      "odd#local@example.com\n"
      "   # indented comment\n"
      "last@example.org";  // no final newline
  auto senders = parse_sender_lines(text, "blocked.txt", errors);
  CHECK(errors.empty());
  CHECK(senders == std::vector<std::string>{"spammer@example.com", "bulk@promo.example.net", "15550000000",
                                            "odd#local@example.com", "last@example.org"});
}

TEST_CASE("sender file lines with whitespace inside are errors with their position", "[stages][senders]") {
  std::vector<std::string> errors;
  parse_sender_lines("ok@example.com\n  two words\nfine\nx\ty\n\xc3\xa9t\xc3\xa9 x\n", "blocked.txt", errors);
  REQUIRE(errors.size() == 3);
  CHECK(errors[0] == "blocked.txt:2:6: whitespace inside a sender (one sender per line)");
  CHECK(errors[1].rfind("blocked.txt:4:2: ", 0) == 0);
  CHECK(errors[2].rfind("blocked.txt:5:4: ", 0) == 0);  // columns count characters, not bytes
}

TEST_CASE("sender list matches exactly or ignoring ASCII case", "[stages][senders]") {
  SenderList list({"Spammer@Example.com", "15550000000"});
  CHECK(list.size() == 2);
  CHECK(list.contains("Spammer@Example.com"));
  CHECK_FALSE(list.contains("spammer@example.com"));
  CHECK(list.contains_ignoring_case("spammer@example.com"));
  CHECK(list.contains_ignoring_case("SPAMMER@EXAMPLE.COM"));
  CHECK_FALSE(list.contains_ignoring_case("spammer@example.co"));
  CHECK_FALSE(list.contains_ignoring_case("spammer@example.comm"));
  CHECK(list.contains("15550000000"));
  CHECK_FALSE(list.contains("1555000000"));
}

TEST_CASE("sender list file: empty path means none, a missing file is an error", "[stages][senders]") {
  std::vector<std::string> errors;
  auto none = load_sender_list("", errors);
  REQUIRE(none);
  CHECK(none->empty());
  CHECK(errors.empty());

  auto missing = load_sender_list("/nonexistent/blocked_senders.txt", errors);
  CHECK(missing == nullptr);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0] ==
        "/nonexistent/blocked_senders.txt: cannot read blocked senders file: No such file or directory");
}

TEST_CASE("the shipped blocked senders file loads", "[stages][senders]") {
  std::vector<std::string> errors;
  auto list = load_sender_list(SLUICE_SOURCE_DIR "/config/blocked_senders.txt", errors);
  REQUIRE(list);
  CHECK(errors.empty());
  CHECK(list->contains_ignoring_case("SPAMMER@example.com"));
  CHECK(list->contains("15550000000"));
}

// Sparse files: past the limit by one byte, yet costing no disk and, if the limit failed,
// tens of megabytes of memory that the test would notice only as slowness.
TEST_CASE("a blocked senders file past 16 MiB is refused before it is read", "[stages][senders][limits]") {
  sluice::test::TempDir dir;
  const std::string path = dir.file("blocked_senders.txt");
  sluice::test::write_file(path, "spammer@example.com\n");
  std::vector<std::string> errors;
  REQUIRE(load_sender_list(path, errors) != nullptr);
  std::filesystem::resize_file(path, kMaxBlockedSendersFileBytes + 1);
  CHECK(load_sender_list(path, errors) == nullptr);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].find(path + ": cannot read blocked senders file: ") == 0);
  CHECK(errors[0].find("the limit is 16777216 (16 MiB)") != std::string::npos);
}

TEST_CASE("a schema file past 1 MiB is refused before it is read", "[stages][schema][limits]") {
  sluice::test::TempDir dir;
  const std::string path = dir.file("email_received.json");
  sluice::test::write_file(path, "{\"type\": \"object\"}");
  std::vector<std::string> errors;
  REQUIRE(load_schema_registry(dir.file(""), errors) != nullptr);
  REQUIRE(errors.empty());
  std::filesystem::resize_file(path, kMaxSchemaFileBytes + 1);
  CHECK(load_schema_registry(dir.file(""), errors) == nullptr);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].find("email_received.json") != std::string::npos);
  CHECK(errors[0].find("the limit is 1048576 (1 MiB)") != std::string::npos);
}
