// /readyz and /livez as HealthState decides them: every check must hold for ready.

#include "admin/health.h"

#include <catch2/catch.hpp>

using namespace sluice::admin;

namespace {

void make_ready(HealthState& health) {
  health.beat();
  health.started.store(true);
  health.joined.store(true);
  health.set_connectivity(true, "", true, "");
}

}  // namespace

TEST_CASE("health: ready only when started, joined, in the group, brokers reached, not draining, nothing stalled "
          "and the dedup store not failing",
          "[admin][health]") {
  HealthState health;
  CHECK_FALSE(health.ready());
  make_ready(health);
  CHECK(health.ready());
  CHECK(health.live());
  CHECK(health.describe().find("[-]") == std::string::npos);

  health.set_connectivity(false, "out of the group: partitions lost", true, "");
  CHECK_FALSE(health.ready());
  CHECK(health.describe().find("[-]in group failed (out of the group: partitions lost)") != std::string::npos);
  CHECK(health.live());  // a remote problem never fails liveness
  health.set_connectivity(true, "", true, "");
  CHECK(health.ready());

  health.set_connectivity(true, "", false, "no broker reached for 31s");
  CHECK_FALSE(health.ready());
  CHECK(health.describe().find("[-]brokers reached failed (no broker reached for 31s)") != std::string::npos);
  health.set_connectivity(true, "", true, "");

  health.dedup_store_failing.store(true);
  CHECK_FALSE(health.ready());
  CHECK(health.describe().find("[-]dedup store failed") != std::string::npos);
  health.dedup_store_failing.store(false);

  health.stalled_partitions.store(2);
  CHECK_FALSE(health.ready());
  health.stalled_partitions.store(0);
  health.draining.store(true);
  CHECK_FALSE(health.ready());
}

TEST_CASE("health: live while the loop beat within the last 60 s", "[admin][health]") {
  HealthState health;
  health.beat();
  CHECK(health.live());
  health.loop_heartbeat_ms.store(HealthState::steady_now_ms() - HealthState::kLivenessGapMs - 1);
  CHECK_FALSE(health.live());
}
