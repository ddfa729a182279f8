#include "engine/step_ledger.h"

namespace sluice::engine {

// The values of sluice_pipeline_*{step} in kMetricTable (metrics.cc), in the same words.
std::string_view step_name(Step step) {
  switch (step) {
    case Step::Staging: return "staging";
    case Step::Held: return "held";
    case Step::Dedup: return "dedup";
    case Step::WaitingOnPeer: return "waiting_on_peer";
    case Step::Queued: return "queued";
    case Step::Forwarding: return "forwarding";
    case Step::Retrying: return "retrying";
    case Step::DeadLettering: return "dead_lettering";
    case Step::Rejecting: return "rejecting";
  }
  return "unknown";
}

}  // namespace sluice::engine
