#pragma once
// Whether the instance is a member of its consumer group and reaches a broker: the two
// remote-facing checks of /readyz. The engine feeds it what librdkafka tells it and asks for
// a verdict once a second (and after each group event); a changed verdict goes to the
// LifecycleListener (on_connectivity), which the daemon turns into HealthState.
//
//   in group  — an assignment arrived (even an empty one) and was not taken away since: not
//               lost (session timeout, fencing, max.poll.interval.ms exceeded, a failed
//               rebalance), no "unknown member" / "max poll exceeded" error from the
//               consumer, and not all revoked in a rebalance that has lasted longer than
//               `timeout` (an ordinary rebalance revokes everything for a moment; that alone
//               is not a reason to take the instance out of service).
//   brokers   — no client reported "all brokers down", or some broker answered since (a
//               fetched record, an assignment, a successful commit, a watermark answer), or
//               it reported that less than `timeout` ago.
//
// Threading: engine thread only. Pure logic over the time points it is given, so tests
// drive it with a manual clock.

#include <chrono>
#include <optional>
#include <string>

#include "kafka/handles.h"

namespace sluice::engine {

class Connectivity {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  explicit Connectivity(std::chrono::milliseconds timeout) : timeout_(timeout) {}

  // ---- the group
  // Partitions were assigned (the first assignment, even empty, is the join).
  void on_assigned(TimePoint now);
  // Partitions were revoked; `remaining`: how many are still assigned afterwards.
  void on_revoked(bool lost, size_t remaining, TimePoint now);

  // ---- the brokers, and errors that say we are out of the group
  void on_client_error(rd_kafka_resp_err_t error, TimePoint now);
  // Some broker answered.
  void on_broker_contact();
  // Whether a "brokers down" report waits for a contact (the engine then pings a broker).
  bool awaiting_contact() const { return brokers_down_since_.has_value(); }

  struct Verdict {
    bool in_group = false;
    std::string group_detail;  // why not in the group, for /readyz?verbose; empty when in it
    bool brokers_reached = true;
    std::string broker_detail;  // since when no broker was reached; empty when reached
    bool operator==(const Verdict&) const = default;
  };
  Verdict evaluate(TimePoint now) const;

 private:
  enum class Group { NotJoined, Member, Rebalancing, Out };

  const std::chrono::milliseconds timeout_;
  Group group_ = Group::NotJoined;
  TimePoint rebalancing_since_{};
  std::string out_reason_;
  std::optional<TimePoint> brokers_down_since_;
};

}  // namespace sluice::engine
