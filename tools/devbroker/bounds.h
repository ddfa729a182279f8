#pragma once
// Bounds on what the command line and the control protocol accept. The mock allocates per
// broker and per partition up front, so absurd numbers are refused instead of exhausting
// memory or sockets.

#include <cstddef>
#include <cstdint>

namespace sluice::devbroker {

constexpr int64_t kMaxBrokers = 64;
constexpr int64_t kMaxPartitions = 10'000;
constexpr int64_t kMaxRttMs = 3'600'000;
// A control line longer than this is answered with ERR and skipped up to its newline.
constexpr size_t kMaxLineBytes = 4096;

}  // namespace sluice::devbroker
