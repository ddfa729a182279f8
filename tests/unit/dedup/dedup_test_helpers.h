#pragma once
// Shared by the dedup unit tests: fingerprints made from counters, a clock the test moves,
// and a scratch directory removed at the end of the test.

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include <catch2/catch.hpp>

#include "dedup/dedup_store.h"

namespace sluice::dedup::testing {

// splitmix64: the state advances by a constant and the output is a bijection of it.
inline uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Distinct for distinct `n` (the first 8 bytes alone are) and spread over all 32 bytes like
// a real SHA-256, so B-tree and hash-table behaviour matches production.
inline Fingerprint fingerprint_of(uint64_t n) {
  Fingerprint fingerprint;
  uint64_t state = n * 4;
  for (size_t lane = 0; lane < 4; ++lane) {
    const uint64_t word = splitmix64(state);
    std::memcpy(fingerprint.bytes.data() + lane * 8, &word, sizeof word);
  }
  return fingerprint;
}

inline std::vector<Fingerprint> fingerprints_from(uint64_t first, size_t count) {
  std::vector<Fingerprint> out;
  out.reserve(count);
  for (size_t i = 0; i < count; ++i) out.push_back(fingerprint_of(first + i));
  return out;
}

inline std::vector<ReserveStatus> reserve(DedupStore& store, std::span<const Fingerprint> fingerprints) {
  std::vector<ReserveStatus> out;
  store.reserve(fingerprints, out);
  return out;
}

inline size_t count_of(const std::vector<ReserveStatus>& statuses, ReserveStatus wanted) {
  size_t count = 0;
  for (ReserveStatus status : statuses) count += status == wanted ? 1 : 0;
  return count;
}

// Time stands still until the test advances it.
class ManualClock {
 public:
  NowFn fn() {
    return [this] { return now_ms_; };
  }
  void advance(std::chrono::milliseconds by) { now_ms_ += by.count(); }
  int64_t now_ms() const { return now_ms_; }

 private:
  int64_t now_ms_ = 1'764'000'000'000;  // late 2025
};

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "sluice-dedup-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::system_error(errno, std::generic_category(), "mkdtemp");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace sluice::dedup::testing

namespace Catch {
template <>
struct StringMaker<sluice::dedup::ReserveStatus> {
  static std::string convert(sluice::dedup::ReserveStatus status) {
    switch (status) {
      case sluice::dedup::ReserveStatus::Reserved: return "Reserved";
      case sluice::dedup::ReserveStatus::Duplicate: return "Duplicate";
      case sluice::dedup::ReserveStatus::Busy: return "Busy";
      case sluice::dedup::ReserveStatus::Unavailable: return "Unavailable";
    }
    return "?";
  }
};
}  // namespace Catch
