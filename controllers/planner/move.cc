// One move or one promotion: choosing the receiver, promoting a warm pod when
// no active pod has room, and committing a Move with its predicted effect.
#include <algorithm>
#include <cmath>
#include <limits>

#include "controllers/planner/placement.h"
#include "controllers/planner/planner_internal.h"

namespace shardcast::planner::internal {

PodEffect Planner::EffectOf(std::size_t p, double load_before) const {
  return {st_.pods[p].name, load_before / Cap(p), Util(p)};
}

long Planner::PickTarget(double load, std::size_t exclude, const Range* range) const {
  long best = -1;
  double best_score = -1e300;
  const std::size_t bound =
      range != nullptr ? RangeBound() : std::numeric_limits<std::size_t>::max();
  for (std::size_t p = 0; p < st_.pods.size(); ++p) {
    const PodModel& pod = pods_[p];
    if (p == exclude || !Active(p) || !st_.pods[p].ready || pod.hot) continue;
    if (pod.ranges + 1 > bound) continue;
    if (range && EchoesOn(*range, st_.pods[p].name)) continue;
    double after = (pod.load + load) / Cap(p);
    if (after > pol_.target_utilization + 1e-12) continue;
    double score = (pol_.target_utilization - after) - 0.5 * pod.observed / Cap(p) -
                   0.5 * pod.load_before / Cap(p) - 0.05 * static_cast<double>(pod.moves_in);
    if (score > best_score + 1e-12 ||
        (std::abs(score - best_score) <= 1e-12 && best >= 0 &&
         st_.pods[p].name < st_.pods[static_cast<std::size_t>(best)].name)) {
      best = static_cast<long>(p);
      best_score = score;
    }
  }
  return best;
}

long Planner::TryPromote(std::string& why, const std::string& for_what) {
  if (ActiveCount() >= st_.max_replicas) {
    why = "maxReplicas=" + std::to_string(st_.max_replicas) + " reached";
    return -1;
  }
  if (relieving_ != nullptr && !PromotionWorthIt(*relieving_, why)) return -1;
  bool any_warm = false, cooling = false;
  for (std::size_t p = 0; p < st_.pods.size(); ++p) {
    if (Active(p)) continue;
    any_warm = true;
    if (!st_.pods[p].ready) continue;
    if (PodCooling(st_.pods[p].name)) {
      // Acted on (demoted) within the cooldown: promoting it again is a flap.
      cooling = true;
      if (flaps_.insert(st_.pods[p].name).second) {
        ++plan_.flaps_refused;
        plan_.flap_pods.push_back(st_.pods[p].name);
        plan_.blocked.push_back(
            {st_.pods[p].name, "not promoted: acted on less than cooldown " +
                                   Secs(static_cast<double>(pol_.cooldown_seconds)) +
                                   " ago (flap refused)"});
      }
      continue;
    }
  }
  // The pod pre-warmed for the hot pod being relieved, else the next warm
  // pod that holds no other pod's pre-warms, else the next warm pod. The
  // ShardSet controller promotes the pod the action names.
  long best = relieving_ != nullptr ? WarmPodFor(relieving_->pod) : -1;
  if (best < 0) best = NextWarmPod();
  if (best < 0) {
    why = !any_warm ? "warm pool empty"
          : cooling ? "warm pool has no ready pod out of cooldown"
                    : "warm pool has no ready pod";
    return -1;
  }
  auto p = static_cast<std::size_t>(best);
  st_.pods[p].role = PodRole::kActive;
  Action a;
  a.type = ActionType::kPromote;
  a.pod = st_.pods[p].name;
  a.reason = "no active pod has room under targetUtilization " + Pct(pol_.target_utilization) +
             " for " + for_what;
  if (relieving_ != nullptr) a.reason += "; " + promotion_weight_;
  a.effect.push_back({a.pod, pods_[p].load / Cap(p), pods_[p].load / Cap(p)});
  Commit(std::move(a));
  return best;
}

// Expected overload prevented against the pod-seconds a promotion costs.
bool Planner::PromotionWorthIt(const HotPod& h, std::string& why) {
  const double ttc = std::max(0.0, h.ttc);
  const double prevented =
      pods_[h.pod].prob * std::max(0.0, in_.forecasts.horizon_seconds - ttc) * pol_.overload_weight;
  const double cost = ttc + static_cast<double>(pol_.scale_in_stabilization_seconds);
  promotion_weight_ = "expected overload prevented " + Num(prevented / 60, "%.0f") +
                      " weighted pod-min >= cost " + Num(cost / 60, "%.0f") + " pod-min";
  if (prevented >= cost) return true;
  why = "a promotion is not worth it: expected overload prevented " + Num(prevented / 60, "%.0f") +
        " weighted pod-min (P=" + Num(pods_[h.pod].prob) + ", crossing in " + Secs(ttc) +
        ") < cost " + Num(cost / 60, "%.0f") + " pod-min";
  return false;
}

bool Planner::MoveRange(std::size_t ri, const std::string& why, double score, bool allow_promote) {
  auto& rg = st_.ranges[ri];
  std::size_t from = pod_idx_.at(rg.owner);
  double share = OwnerShare(ri, rg.echoes.size());
  std::string subject = "range/" + std::to_string(rg.id);
  // A pod that echoes the range takes it over by catching up (pre-warmed).
  long to = EchoReceiver(ri, from);
  if (to < 0) to = PickTarget(share, from, &rg);
  if (to < 0 && allow_promote) {
    std::string why_not;
    to =
        TryPromote(why_not, "range " + std::to_string(rg.id) + " (" + Pct(share / Cap(from)) + ")");
    if (to < 0) {
      plan_.blocked.push_back({subject, "cannot move off " + rg.owner +
                                            ": no pod has room under targetUtilization and " +
                                            why_not});
      return false;
    }
    to = EchoReceiver(ri, from);
    if (to < 0) to = PickTarget(share, from, &rg);
    if (to < 0) {
      plan_.blocked.push_back(
          {subject, "cannot move off " + rg.owner +
                        ": no room under targetUtilization even on the promoted pod"});
      return false;
    }
  }
  if (to < 0) {
    plan_.blocked.push_back(
        {subject, "cannot move off " + rg.owner +
                      ": no ready active pod has room under targetUtilization " +
                      Pct(pol_.target_utilization)});
    return false;
  }
  if (moves_emitted_ >= budget_) {
    plan_.blocked.push_back({subject, "move off " + rg.owner + " deferred: " + budget_reason_});
    return false;
  }
  auto t = static_cast<std::size_t>(to);
  const double before_from = pods_[from].load, before_to = pods_[t].load;
  pods_[from].load -= share;
  const bool prewarmed = EchoesOn(rg, st_.pods[t].name);
  if (prewarmed) {
    // The echo becomes the owner: its echo share turns into the owner's,
    // and the other echoes split the reads one way fewer.
    const std::size_t e = rg.echoes.size();
    pods_[t].load += OwnerShare(ri, e - 1) - EchoShare(ri, e);
    DropEcho(ri, st_.pods[t].name);
  } else {
    pods_[t].load += share;
  }
  ++pods_[t].moves_in;
  if (pods_[from].ranges > 0) --pods_[from].ranges;
  ++pods_[t].ranges;
  ++moves_emitted_;
  Action a;
  a.type = ActionType::kMove;
  a.range = rg.id;
  a.from = rg.owner;
  a.to = st_.pods[t].name;
  a.score = score;
  a.reason = why + (prewarmed ? "; " + st_.pods[t].name + " echoes it: the move only catches up"
                              : std::string());
  a.effect = {EffectOf(from, before_from), EffectOf(t, before_to)};
  rg.owner = st_.pods[t].name;
  Commit(std::move(a));
  return true;
}

}  // namespace shardcast::planner::internal
