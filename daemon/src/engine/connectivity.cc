#include "engine/connectivity.h"

#include "common/text.h"
#include "kafka/client.h"

namespace sluice::engine {
namespace {

// Errors with which the consumer says the group no longer knows this member. librdkafka
// rejoins by itself; until an assignment arrives the instance is out of the group.
bool means_out_of_group(rd_kafka_resp_err_t error) {
  switch (error) {
    case RD_KAFKA_RESP_ERR__MAX_POLL_EXCEEDED:
    case RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID:
    case RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID:
      return true;
    default:
      return false;
  }
}

}  // namespace

void Connectivity::on_assigned(TimePoint) {
  group_ = Group::Member;
  out_reason_.clear();
  // The coordinator answered: a broker is reachable.
  on_broker_contact();
}

void Connectivity::on_revoked(bool lost, size_t remaining, TimePoint now) {
  if (lost) {
    group_ = Group::Out;
    out_reason_ = "partitions lost";
    return;
  }
  if (remaining == 0 && group_ == Group::Member) {
    group_ = Group::Rebalancing;
    rebalancing_since_ = now;
  }
}

void Connectivity::on_client_error(rd_kafka_resp_err_t error, TimePoint now) {
  if (error == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
    if (!brokers_down_since_) brokers_down_since_ = now;
    return;
  }
  if (means_out_of_group(error) && group_ != Group::NotJoined) {
    group_ = Group::Out;
    out_reason_ = kafka::error_name(error);
  }
}

void Connectivity::on_broker_contact() { brokers_down_since_.reset(); }

Connectivity::Verdict Connectivity::evaluate(TimePoint now) const {
  Verdict verdict;
  auto since = [&](TimePoint start) {
    return text::format_duration(std::chrono::duration_cast<std::chrono::milliseconds>(now - start));
  };
  switch (group_) {
    case Group::NotJoined:
      verdict.group_detail = "not joined yet";
      break;
    case Group::Member:
      verdict.in_group = true;
      break;
    case Group::Rebalancing:
      verdict.in_group = now - rebalancing_since_ < timeout_;
      if (!verdict.in_group) {
        verdict.group_detail = "every partition revoked " + since(rebalancing_since_) + " ago, no assignment since";
      }
      break;
    case Group::Out:
      verdict.group_detail = "out of the group: " + out_reason_;
      break;
  }
  if (brokers_down_since_) {
    verdict.brokers_reached = now - *brokers_down_since_ < timeout_;
    if (!verdict.brokers_reached) verdict.broker_detail = "no broker reached for " + since(*brokers_down_since_);
  }
  return verdict;
}

}  // namespace sluice::engine
