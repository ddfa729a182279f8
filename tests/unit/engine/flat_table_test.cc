// The flat table under random inserts and removals, against std::unordered_map: names that
// share their home slot (the top bits) and runs that wrap past the end of the array are where
// removal by shifting back can lose an entry.

#include <catch2/catch.hpp>

#include <cstdint>
#include <memory>
#include <random>
#include <unordered_map>
#include <vector>

#include "engine/flat_table.h"

using sluice::engine::FlatTable;

TEST_CASE("flat table: finds exactly what a reference map holds, through growth, collisions and removals",
          "[engine][flat_table]") {
  for (uint32_t seed : {1u, 2u, 3u, 4u}) {
    std::mt19937_64 random(seed);
    FlatTable<int> table(/*initial_bits=*/3);
    std::unordered_map<uint64_t, int> reference;
    std::vector<uint64_t> names;
    // Few distinct top bits and many low ones: long runs of colliding homes at both ends of
    // the array, so that runs from the last slots wrap into those of the first.
    auto new_name = [&] {
      const uint64_t top = random() % 2 == 0 ? random() % 3 : 0xFF - random() % 3;
      return (top << 56) | (random() & 0x00FF'FFFF'FFFF'FFFFULL);
    };
    for (int step = 0; step < 20'000; ++step) {
      const bool add = names.empty() || random() % 100 < (step < 10'000 ? 60 : 40);
      if (add) {
        const uint64_t name = new_name();
        if (reference.count(name) != 0) continue;
        const int value = step;
        table.insert(name, std::make_unique<int>(value));
        reference[name] = value;
        names.push_back(name);
      } else {
        const size_t at = random() % names.size();
        const uint64_t name = names[at];
        names[at] = names.back();
        names.pop_back();
        std::unique_ptr<int> taken = table.take(name);
        REQUIRE(taken != nullptr);
        CHECK(*taken == reference.at(name));
        reference.erase(name);
        CHECK(table.take(name) == nullptr);
      }
      if (step % 1999 == 0) {
        for (const auto& [name, value] : reference) {
          const int* found = table.find(name);
          REQUIRE(found != nullptr);
          CHECK(*found == value);
        }
        size_t visited = 0;
        table.for_each([&](uint64_t name, const int& value) {
          visited += 1;
          CHECK(reference.at(name) == value);
        });
        CHECK(visited == reference.size());
      }
      CHECK(table.size() == reference.size());
    }
    for (const auto& [name, value] : reference) {
      const int* found = table.find(name);
      REQUIRE(found != nullptr);
      CHECK(*found == value);
    }
    for (int i = 0; i < 100; ++i) {
      const uint64_t absent = new_name();
      if (reference.count(absent) == 0) CHECK(table.find(absent) == nullptr);
    }
  }
}
