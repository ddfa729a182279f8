#pragma once
// A dedup store that outlives the instances using it, as SQLite on a volume or Redis does,
// for tests with crashes: each instance gets a view (owner), confirmed fingerprints stay,
// and the reservations of an instance that crashed expire at once (as a Redis reservation's
// TTL would), so its successor can take them over.
//
// Threading: one thread.

#include <memory>
#include <unordered_map>

#include "dedup/dedup_store.h"
#include "fingerprint/fingerprint.h"

namespace sluice::fakes {

class SharedDedupState {
 public:
  // A store for one instance.
  dedup::DedupStorePtr view(int owner);
  // `owner` crashed: its reservations go.
  void crash(int owner);
  size_t confirmed() const;

 private:
  friend class SharedDedupView;
  struct Entry {
    bool confirmed = false;
    int owner = 0;  // of a reservation
  };
  std::unordered_map<fingerprint::Fingerprint, Entry, fingerprint::FingerprintHash> entries_;
};

}  // namespace sluice::fakes
