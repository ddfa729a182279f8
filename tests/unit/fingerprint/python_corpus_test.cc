#include <catch2/catch.hpp>

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "common/text.h"
#include "fingerprint/fingerprint.h"
#include "json/json_parser.h"

namespace {

struct CorpusEntry {
  std::string expected_hex;
  std::string raw;
};

// A file name under the temp directory, removed when the test ends.
class TempFile {
 public:
  TempFile() {
    std::string pattern = (std::filesystem::temp_directory_path() / "sluice-fingerprint-corpus-XXXXXX").string();
    int fd = mkstemp(pattern.data());
    REQUIRE(fd >= 0);
    close(fd);
    path_ = pattern;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Runs the generator with Debian's Python, whose json module gives the expected fingerprints.
std::vector<CorpusEntry> generate_corpus(int count, int seed) {
  TempFile file;
  std::string command = std::string("/usr/bin/python3 ") + SLUICE_SOURCE_DIR +
                        "/tests/support/fingerprint_corpus.py --count " + std::to_string(count) + " --seed " +
                        std::to_string(seed) + " --out " + file.path();
  REQUIRE(std::system(command.c_str()) == 0);

  std::vector<CorpusEntry> corpus;
  std::ifstream in(file.path());
  std::string line;
  while (std::getline(in, line)) {
    size_t tab = line.find('\t');
    REQUIRE(tab == 64);
    std::optional<std::string> raw = sluice::text::base64_decode(std::string_view(line).substr(tab + 1));
    REQUIRE(raw.has_value());
    corpus.push_back({line.substr(0, tab), std::move(*raw)});
  }
  return corpus;
}

}  // namespace

TEST_CASE("fingerprints match Python's on a generated corpus", "[fingerprint][python]") {
  constexpr int kCount = 2500;
  std::vector<CorpusEntry> corpus = generate_corpus(kCount, 20261126);
  REQUIRE(corpus.size() == kCount);

  sluice::json::JsonParser parser(64);
  sluice::json::ParsedDocument document;
  sluice::fingerprint::Fingerprinter fingerprinter;
  int matched = 0;
  int reported = 0;
  // What the corpus exercised, so a generator that stopped producing a shape is noticed.
  int big_integers = 0;
  int infinities = 0;
  int exponents = 0;
  int negative_zeros = 0;
  int surrogate_pairs = 0;
  int controls = 0;
  for (size_t i = 0; i < corpus.size(); ++i) {
    const CorpusEntry& entry = corpus[i];
    auto outcome = parser.parse(entry.raw, document);
    if (!outcome.ok) {
      if (reported++ < 5) FAIL_CHECK("message " << i << " did not parse: " << outcome.error << "\n" << entry.raw);
      continue;
    }
    std::string hex = fingerprinter.compute(document, entry.raw).hex();
    const std::string& text = fingerprinter.last_canonical_text();
    big_integers += document.has_big_integer();
    infinities += text.find("Infinity") != std::string::npos;
    exponents += text.find("e-0") != std::string::npos && text.find("e+") != std::string::npos;
    negative_zeros += text.find("-0.0,") != std::string::npos || text.find("-0.0]") != std::string::npos;
    surrogate_pairs += text.find("\\ud83") != std::string::npos;
    controls += text.find("\\u0000") != std::string::npos;
    if (hex == entry.expected_hex) {
      ++matched;
    } else if (reported++ < 5) {
      FAIL_CHECK("message " << i << " fingerprint " << hex << " != " << entry.expected_hex << "\nraw: " << entry.raw
                            << "\ncanonical: " << fingerprinter.last_canonical_text());
    }
  }
  CHECK(matched == kCount);
  INFO("big integers " << big_integers << ", infinities " << infinities << ", exponents " << exponents
                       << ", negative zeros " << negative_zeros << ", surrogate pairs " << surrogate_pairs
                       << ", NUL escapes " << controls);
  CHECK(big_integers > kCount / 20);
  CHECK(infinities > kCount / 50);
  CHECK(exponents > kCount / 20);
  CHECK(negative_zeros > kCount / 100);
  CHECK(surrogate_pairs > kCount / 5);
  CHECK(controls > kCount / 20);
}

TEST_CASE("fingerprint cost on a typical email event", "[fingerprint][.bench]") {
  const std::string raw =
      R"({"channel":"email","message_type":"email_received","message_id":"5f557203-18f1-48c3-ab64-907a1012f037",)"
      R"("timestamp":"2026-11-26T19:32:08.123Z","correlation_id":"e0a0902c-57ee-4bab-a72e-9be449b64a08",)"
      R"("sequence_number":184467,"payload":{"from_email":"alice.smith@example.com","to_email":"support@corp.example",)"
      R"("subject":"Invoice 2026-114 overdue \u2013 please confirm","body":"Hello team,\nthe invoice sent on )"
      R"(12 November is still open. Could you confirm the payment date? Merci beaucoup, Ren\u00e9e",)"
      R"("timestamp":"2026-11-26T19:32:07.981Z","received_at":"2026-11-26T19:32:08.004Z","priority":2,)"
      R"("score":0.8734,"labels":["billing","finance"]},"source":"imap","retry_count":0})";
  sluice::json::JsonParser parser(64);
  sluice::json::ParsedDocument document;
  REQUIRE(parser.parse(raw, document).ok);
  sluice::fingerprint::Fingerprinter fingerprinter;

  // Thread CPU time, not wall time: on a shared machine the loop is often descheduled.
  auto cpu_ns = [] {
    timespec now{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    return static_cast<double>(now.tv_sec) * 1e9 + static_cast<double>(now.tv_nsec);
  };
  constexpr int kIterations = 200000;
  auto measure = [&](auto&& body) {
    double best = 1e30;
    for (int round = 0; round < 5; ++round) {
      double start = cpu_ns();
      for (int i = 0; i < kIterations; ++i) body();
      best = std::min(best, (cpu_ns() - start) / kIterations);
    }
    return best;
  };
  unsigned char sink = 0;
  double fingerprint_ns = measure([&] { sink ^= fingerprinter.compute(document, raw).bytes[0]; });
  double with_parse_ns = measure([&] {
    parser.parse(raw, document);
    sink ^= fingerprinter.compute(document, raw).bytes[0];
  });
  std::cout << "message " << raw.size() << " bytes, canonical " << fingerprinter.last_canonical_text().size()
            << " bytes: fingerprint " << fingerprint_ns << " ns, parse+fingerprint " << with_parse_ns
            << " ns (best of 5 x " << kIterations << ", sink " << int(sink) << ")\n";
  CHECK(fingerprint_ns > 0);
}
