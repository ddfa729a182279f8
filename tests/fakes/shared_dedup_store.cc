#include "fakes/shared_dedup_store.h"

namespace sluice::fakes {

class SharedDedupView final : public dedup::DedupStore {
 public:
  SharedDedupView(SharedDedupState& state, int owner) : state_(state), owner_(owner) {}

  std::string_view backend_name() const override { return "shared"; }
  void reserve(std::span<const dedup::Fingerprint> fingerprints, std::vector<dedup::ReserveStatus>& out) override {
    out.resize(fingerprints.size());
    for (size_t i = 0; i < fingerprints.size(); ++i) {
      auto [it, inserted] = state_.entries_.try_emplace(fingerprints[i]);
      if (inserted) {
        it->second.owner = owner_;
        out[i] = dedup::ReserveStatus::Reserved;
      } else if (it->second.confirmed) {
        out[i] = dedup::ReserveStatus::Duplicate;
      } else {
        out[i] = dedup::ReserveStatus::Busy;  // held by an earlier record, ours or another's
      }
    }
  }
  void confirm(std::span<const dedup::Fingerprint> fingerprints) override {
    for (const dedup::Fingerprint& fingerprint : fingerprints) state_.entries_[fingerprint] = {true, 0};
  }
  void release(std::span<const dedup::Fingerprint> fingerprints) override {
    for (const dedup::Fingerprint& fingerprint : fingerprints) {
      auto it = state_.entries_.find(fingerprint);
      if (it != state_.entries_.end() && !it->second.confirmed && it->second.owner == owner_) state_.entries_.erase(it);
    }
  }
  bool flush() override { return true; }

 private:
  SharedDedupState& state_;
  const int owner_;
};

dedup::DedupStorePtr SharedDedupState::view(int owner) { return std::make_unique<SharedDedupView>(*this, owner); }

void SharedDedupState::crash(int owner) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    it = !it->second.confirmed && it->second.owner == owner ? entries_.erase(it) : std::next(it);
  }
}

size_t SharedDedupState::confirmed() const {
  size_t count = 0;
  for (const auto& [fingerprint, entry] : entries_) count += entry.confirmed ? 1 : 0;
  return count;
}

}  // namespace sluice::fakes
