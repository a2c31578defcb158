// The policy reconciler's planning stage: one plan per governed ShardSet
// (load, forecasts, planner), published as actions (Auto) or a proposal.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <iterator>
#include <mutex>
#include <set>

#include "controllers/api/names.h"
#include "controllers/migrationpolicy/reconciler.h"
#include "controllers/migrationpolicy/reconciler_state.h"

namespace shardcast::migrationpolicy {

namespace {

using Round = MigrationPolicyReconciler::Round;

// Whether the active pods of `s` run, on average, below `threshold` of
// capacity by their observed load (false when none is observed, or the
// observed load is not in capacity units).
bool LowLoad(const MigrationPolicyReconciler::SetState& s,
             const std::map<std::string, double>& observed, double threshold) {
  double sum = 0;
  int n = 0;
  for (const auto& p : s.pods) {
    if (p.role != api::kRoleActive) continue;
    auto it = observed.find(p.name);
    if (it == observed.end() || !ObservedIsCapacityUnit(s.set)) continue;
    sum += it->second / s.set.capacity;
    ++n;
  }
  return n > 0 && sum / n < threshold;
}

// Impossible constraints of `p` worth a condition (the replica limit and an
// empty warm pool).
void NoteBlocked(Round& r, const std::string& name, const planner::Plan& p) {
  for (const auto& b : p.blocked) {
    if (b.message.find("maxReplicas") != std::string::npos ||
        b.message.find("warm pool") != std::string::npos) {
      r.blocked.push_back(name + ": " + b.subject + ": " + b.message);
    }
  }
}

// Why a plan of `count` actions waits for a later round: with the plans
// before it, status would hold more than `max_actions` actions; nullopt when
// it fits.
std::optional<std::string> DeferredNote(const std::string& name, size_t count,
                                        const std::vector<ProposalPlan>& plans,
                                        size_t max_actions) {
  std::size_t planned = 0;
  for (const auto& pp : plans) planned += pp.plan.actions.size();
  if (planned + count <= max_actions) return std::nullopt;
  return name + ": its plan of " + std::to_string(count) +
         " action(s) is left for a later round: with the " + std::to_string(planned) +
         " already planned, status would hold more than " + std::to_string(max_actions) +
         " actions";
}

}  // namespace

planner::History MigrationPolicyReconciler::LowLoadHistory(Round& r, const std::string& name,
                                                           const SetState& s, const LoadInput& load,
                                                           const planner::History& hist) {
  // lowLoadSince (for scale-in) is kept in memory: a restart only delays scale-in.
  std::string ll_key = r.key + "|" + name;
  planner::History h = hist;
  const bool low = LowLoad(s, load.observed, r.spec.planner.scale_in_utilization);
  std::lock_guard<std::mutex> lock(mu_);
  if (low) {
    low_load_since_.emplace(ll_key, r.now);
    h.low_load_since = low_load_since_[ll_key];
  } else {
    low_load_since_.erase(ll_key);
  }
  return h;
}

planner::History MigrationPolicyReconciler::OverloadHistory(Round& r, const std::string& name,
                                                            const SetState& s,
                                                            const LoadInput& load,
                                                            const planner::History& hist) {
  // The first sample of each pod's current run over maxUtilization is kept
  // in memory: a restart only waits for one more sample.
  planner::History h = hist;
  const std::string prefix = r.key + "|" + name + "|";
  std::lock_guard<std::mutex> lock(mu_);
  std::set<std::string> over;
  for (const auto& p : s.pods) {
    auto v = load.observed.find(p.name);
    auto at = load.observed_at.find(p.name);
    if (p.role != api::kRoleActive || v == load.observed.end() || at == load.observed_at.end() ||
        !ObservedIsCapacityUnit(s.set) ||
        !(v->second > r.spec.planner.max_utilization * s.set.capacity)) {
      continue;
    }
    over.insert(p.name);
    auto first = over_since_.emplace(prefix + p.name, at->second).first;
    if (first->second == at->second) h.unconfirmed_over.insert(p.name);
  }
  for (auto it = over_since_.lower_bound(prefix);
       it != over_since_.end() && it->first.compare(0, prefix.size(), prefix) == 0;) {
    it = over.count(it->first.substr(prefix.size())) ? std::next(it) : over_since_.erase(it);
  }
  return h;
}

void MigrationPolicyReconciler::PlanShardSet(Round& r, const std::string& name,
                                             const planner::History& hist,
                                             std::vector<ProposalPlan>& plans) {
  LoadSet(r, name);
  SetState& s = r.sets[name];
  if (!s.exists) return;
  if (!s.problem.empty()) {
    r.notes.push_back(name + ": " + s.problem);
    return;
  }
  if (s.doc.is_null()) {
    r.notes.push_back(name + ": no routing document yet; nothing planned");
    return;
  }
  LoadInput load;
  if (!s.load) s.load = deps_.observed_load(r.spec.ns, name);
  load.observed = s.load->value;
  load.observed_at = s.load->at;
  load.handovers = Handovers(r.actions, r.history, name);
  auto fc = ParseForecasts(s.obj);
  if (!fc) {
    r.notes.push_back(name + ": " + fc.error().message + "; using observed load only");
  } else {
    load.forecasts = *fc;
  }
  std::vector<PodInfo> pods;
  for (const auto& p : s.pods) pods.push_back({p.name, p.role, p.ready, p.ip});
  planner::History h = OverloadHistory(r, name, s, load, LowLoadHistory(r, name, s, load, hist));
  auto in = BuildPlanInput(s.obj, pods, s.doc, load, r.spec, h, r.now);
  if (!in) {
    r.notes.push_back(name + ": " + in.error().message);
    r.planned_reason = "InvalidInput";
    return;
  }
  if (!in->note.empty()) r.notes.push_back(name + ": " + in->note);
  if (in->no_data) {
    r.notes.push_back(name + ": no forecasts and no observed load; nothing planned");
    if (r.planned_reason == "NothingToDo") r.planned_reason = "NoLoadData";
    return;
  }
  if (in->reactive) r.notes.push_back(name + ": no forecasts; planning on observed load only");
  auto p = planner::MakePlan(in->input);
  if (!p) {
    r.notes.push_back(name + ": planner: " + p.error().message);
    r.planned_reason = "PlanFailed";
    return;
  }
  r.findings.push_back(FindingsOf(name, *p, in->input.history));
  NoteBlocked(r, name, *p);
  if (p->actions.empty()) return;
  if (auto note = DeferredNote(name, p->actions.size(), plans, deps_.max_status_actions)) {
    r.notes.push_back(*note);
    return;
  }
  plans.push_back({name, *p, std::nullopt});
}

void MigrationPolicyReconciler::PublishPlans(Round& r, const std::vector<ProposalPlan>& plans) {
  if (r.spec.mode == Mode::kAuto) {
    r.proposal = Json();
    if (plans.empty()) return;
    std::string id =
        BuildProposal(plans, r.now, r.spec.proposal_ttl_seconds, "")["id"].get<std::string>();
    size_t n = 0;
    for (const auto& pp : plans) {
      for (auto& a : ActionsFromPlan(id + "-" + pp.shard_set, pp.shard_set, pp.plan)) {
        // The planner's reason lives only here: the record's message moves
        // on with its phases.
        spdlog::info("migrationpolicy {}: action {} ({}): {}", r.key, a.id, ActionTypeName(a.type),
                     a.message);
        r.actions.push_back(a);
        ++n;
      }
    }
    r.planned_reason = "Executing";
    event(r.obj, false, "PlanExecuted",
          "plan " + id + ": executing " + std::to_string(n) + " action(s)");
    return;
  }
  if (plans.empty()) {
    r.proposal = Json();
    return;
  }
  std::string note =
      r.spec.mode == Mode::kObserve ? "Observe mode: recorded only, never executed" : "";
  r.proposal = BuildProposal(plans, r.now, r.spec.proposal_ttl_seconds, note);
  r.planned_reason = "ProposalPending";
  if (proposals_ != nullptr) proposals_->with({{"policy", r.key}})->inc();
  std::string id = r.proposal["id"].get<std::string>();
  event(
      r.obj, false, "PlanProposed",
      "plan " + id + ": " + std::to_string(r.proposal["actions"].size()) + " action(s)" +
          (r.spec.mode == Mode::kProposal ? "; approve with annotation shardcast.dev/approve=" + id
                                          : " (Observe mode: not executed)"));
}

void MigrationPolicyReconciler::plan(Round& r) {
  std::vector<ProposalPlan> plans;
  r.planned = true;
  planner::History hist = HistoryFrom(r.actions, r.history, r.now);
  for (const auto& name : r.sel.governed) PlanShardSet(r, name, hist, plans);
  MergeRequestMoves(r.request_moves, plans);
  PublishPlans(r, plans);
}

}  // namespace shardcast::migrationpolicy
