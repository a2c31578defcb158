// MakePlan: validate, then run the stages in order (load model, relieve,
// consolidate, report). The stages are in the files planner_internal.h lists.
#include "controllers/planner/planner.h"

#include "controllers/planner/planner_internal.h"
#include "controllers/planner/schedule.h"

namespace shardcast::planner {

const char* ActionTypeName(ActionType t) {
  switch (t) {
    case ActionType::kPromote:
      return "Promote";
    case ActionType::kMove:
      return "Move";
    case ActionType::kAddEcho:
      return "AddEcho";
    case ActionType::kRemoveEcho:
      return "RemoveEcho";
    case ActionType::kSplit:
      return "Split";
    case ActionType::kMerge:
      return "Merge";
    case ActionType::kDemote:
      return "Demote";
    case ActionType::kScaleIn:
      return "ScaleIn";
  }
  return "?";
}

namespace internal {

Result<Plan> Planner::Run() {
  Index();
  ComputeLoads();
  CheckEventCapacity();
  ComputeBudget();
  std::string why;
  bool allowed = Allowed(why);
  Relieve();
  RemoveEchoes();
  Merges();
  if (!any_watching_ && plan_.actions.empty()) ScaleIn();
  for (const auto& a : plan_.actions) plan_.moves += a.type == ActionType::kMove ? 1 : 0;
  Report(allowed, why);
  return std::move(plan_);
}

}  // namespace internal

Result<Plan> MakePlan(const PlanInput& in) {
  auto ok = internal::Validate(in);
  if (!ok) return unexpected(ok.error());
  for (std::size_t i = 0; i < in.policy.windows.size(); ++i) {
    auto c = Cron::Parse(in.policy.windows[i].cron);
    if (!c)
      return unexpected(
          Error{"policy.windows[" + std::to_string(i) + "].schedule: " + c.error().message});
  }
  for (std::size_t i = 0; i < in.policy.blackouts.size(); ++i) {
    auto c = Cron::Parse(in.policy.blackouts[i].cron);
    if (!c)
      return unexpected(
          Error{"policy.blackouts[" + std::to_string(i) + "].schedule: " + c.error().message});
  }
  internal::Planner p(in);
  return p.Run();
}

Result<std::size_t> MovementLowerBound(const PlanInput& in) {
  auto plan = MakePlan(in);
  if (!plan) return unexpected(plan.error());
  return plan->moved_lower_bound;
}

}  // namespace shardcast::planner
