#include "fingerprint/fingerprint_map.h"

#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <unordered_map>
#include <vector>

namespace {

using sluice::fingerprint::Fingerprint;
using sluice::fingerprint::FingerprintHash;
using sluice::fingerprint::FingerprintMap;
using sluice::fingerprint::FingerprintSet;

// Real digests look random; these are the hand-made kind tests use: all bytes zero but one or
// two, so without mixing they would all land in the same slot.
Fingerprint sparse(uint32_t n) {
  Fingerprint fingerprint;
  fingerprint.bytes[31] = static_cast<unsigned char>(n);
  fingerprint.bytes[30] = static_cast<unsigned char>(n >> 8);
  fingerprint.bytes[29] = static_cast<unsigned char>(n >> 16);
  return fingerprint;
}

Fingerprint random_fingerprint(std::mt19937_64& random) {
  Fingerprint fingerprint;
  for (size_t i = 0; i < fingerprint.bytes.size(); i += 8) {
    uint64_t word = random();
    for (size_t j = 0; j < 8; ++j) fingerprint.bytes[i + j] = static_cast<unsigned char>(word >> (8 * j));
  }
  return fingerprint;
}

// Compares the map with std::unordered_map after every step of a random mix of inserts,
// assignments, erases (of present and absent keys) and lookups, from a small key space so
// that runs of neighbouring entries form and are broken by deletion.
void check_against_model(std::vector<Fingerprint> keys, uint64_t seed, int steps) {
  std::mt19937_64 random(seed);
  FingerprintMap<int64_t> map;
  std::unordered_map<Fingerprint, int64_t, FingerprintHash> model;
  for (int step = 0; step < steps; ++step) {
    const Fingerprint& key = keys[random() % keys.size()];
    const auto value = static_cast<int64_t>(step);
    switch (random() % 4) {
      case 0: {
        auto [entry, inserted] = map.try_emplace(key, value);
        auto [expected, expected_inserted] = model.try_emplace(key, value);
        REQUIRE(inserted == expected_inserted);
        REQUIRE(*entry == expected->second);
        break;
      }
      case 1:
        map.insert_or_assign(key, value);
        model.insert_or_assign(key, value);
        break;
      case 2:
        REQUIRE(map.erase(key) == (model.erase(key) == 1));
        break;
      default: {
        map.prefetch(key);  // a hint only; under the sanitizers, a slot outside the table fails
        const int64_t* found = map.find(key);
        auto expected = model.find(key);
        REQUIRE((found != nullptr) == (expected != model.end()));
        if (found != nullptr) REQUIRE(*found == expected->second);
      }
    }
    REQUIRE(map.size() == model.size());
  }
  // Every key agrees at the end, and iteration visits exactly the model's entries.
  for (const Fingerprint& key : keys) {
    const int64_t* found = map.find(key);
    auto expected = model.find(key);
    REQUIRE((found != nullptr) == (expected != model.end()));
    if (found != nullptr) REQUIRE(*found == expected->second);
  }
  size_t visited = 0;
  map.for_each([&](const Fingerprint& key, int64_t value) {
    ++visited;
    auto expected = model.find(key);
    REQUIRE(expected != model.end());
    REQUIRE(expected->second == value);
  });
  REQUIRE(visited == model.size());
}

}  // namespace

TEST_CASE("fingerprint map agrees with std::unordered_map on random digests") {
  std::mt19937_64 random(7);
  std::vector<Fingerprint> keys;
  for (int i = 0; i < 3000; ++i) keys.push_back(random_fingerprint(random));
  check_against_model(keys, 11, 60'000);
}

TEST_CASE("fingerprint map agrees with std::unordered_map on fingerprints that differ in one byte") {
  std::vector<Fingerprint> keys;
  for (uint32_t i = 0; i < 200; ++i) keys.push_back(sparse(i));
  check_against_model(keys, 3, 40'000);
}

TEST_CASE("fingerprint map grows past many doublings and keeps every entry") {
  FingerprintMap<int64_t> map;
  for (uint32_t i = 0; i < 100'000; ++i) REQUIRE(map.try_emplace(sparse(i), i).second);
  REQUIRE(map.size() == 100'000);
  for (uint32_t i = 0; i < 100'000; i += 7) {
    const int64_t* found = map.find(sparse(i));
    REQUIRE(found != nullptr);
    REQUIRE(*found == i);
  }
  REQUIRE(map.find(sparse(100'000)) == nullptr);
  // Erase every other entry, then the rest: lookups stay right while runs are broken up.
  for (uint32_t i = 0; i < 100'000; i += 2) REQUIRE(map.erase(sparse(i)));
  for (uint32_t i = 1; i < 100'000; i += 2) REQUIRE(map.contains(sparse(i)));
  for (uint32_t i = 0; i < 100'000; i += 2) REQUIRE_FALSE(map.contains(sparse(i)));
  for (uint32_t i = 1; i < 100'000; i += 2) REQUIRE(map.erase(sparse(i)));
  REQUIRE(map.empty());
  REQUIRE_FALSE(map.erase(sparse(1)));
}

TEST_CASE("fingerprint map clear empties it and it can be filled again") {
  FingerprintMap<int64_t> map;
  REQUIRE(map.find(sparse(1)) == nullptr);  // an empty map answers without any slots
  REQUIRE_FALSE(map.erase(sparse(1)));
  for (uint32_t i = 0; i < 500; ++i) map.insert_or_assign(sparse(i), i);
  map.clear();
  REQUIRE(map.empty());
  REQUIRE_FALSE(map.contains(sparse(3)));
  map.insert_or_assign(sparse(3), 30);
  map.insert_or_assign(sparse(3), 31);
  REQUIRE(map.size() == 1);
  REQUIRE(*map.find(sparse(3)) == 31);
}

TEST_CASE("fingerprint set inserts once and erases") {
  FingerprintSet set;
  REQUIRE(set.insert(sparse(5)));
  REQUIRE_FALSE(set.insert(sparse(5)));
  REQUIRE(set.contains(sparse(5)));
  REQUIRE(set.size() == 1);
  REQUIRE(set.erase(sparse(5)));
  REQUIRE_FALSE(set.erase(sparse(5)));
  REQUIRE(set.empty());
}
