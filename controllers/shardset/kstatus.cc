#include "controllers/shardset/kstatus.h"

namespace shardcast::shardset {

bool IsStalledReason(const std::string& degraded_reason) {
  return degraded_reason == "InvalidSpec" || degraded_reason == "PodCreateFailed" ||
         degraded_reason == "RoutingConfigMapConflict" || degraded_reason == "PlacementFailed" ||
         degraded_reason == "RoutingDocumentInvalid" || degraded_reason == "RoutingDocumentMissing";
}

api::Verdict ShardSetVerdict(const std::vector<Condition>& conds) {
  const Condition* degraded = api::FindCondition(conds, "Degraded");
  const Condition* progressing = api::FindCondition(conds, "Progressing");
  const Condition* ready = api::FindCondition(conds, api::kConditionReady);
  api::Verdict v;
  if (degraded != nullptr && degraded->status == "True" && IsStalledReason(degraded->reason)) {
    v.state = api::Verdict::State::kStalled;
    v.reason = degraded->reason;
    v.message = degraded->message;
  } else if (progressing != nullptr && progressing->status == "True") {
    v.state = api::Verdict::State::kReconciling;
    v.reason = progressing->reason;
    v.message = progressing->message;
  } else if (ready == nullptr || ready->status != "True") {
    v.state = api::Verdict::State::kReconciling;
    bool deg = degraded != nullptr && degraded->status == "True";
    v.reason = deg ? degraded->reason : ready != nullptr ? ready->reason : "NotReady";
    v.message = deg ? degraded->message : ready != nullptr ? ready->message : "";
  }
  return v;
}

void AddKstatusConditions(std::vector<Condition>& conds) {
  api::ApplyVerdict(conds, ShardSetVerdict(conds));
}

}  // namespace shardcast::shardset
