// Consolidation when nothing is hot: echoes no longer needed, adjacent cold
// ranges merged back toward the configured count, and scale-in (drain the
// victim, then Demote it to the warm pool or remove it).
#include <algorithm>
#include <cstdint>
#include <numeric>
#include <set>

#include "controllers/planner/placement.h"
#include "controllers/planner/planner_internal.h"

namespace shardcast::planner::internal {

void Planner::CommitRemoveEcho(std::size_t ri, const std::string& pod, const std::string& reason) {
  const auto& rg = st_.ranges[ri];
  const std::size_t o = pod_idx_.at(rg.owner), ep = pod_idx_.at(pod);
  const double before_owner = pods_[o].load, before_echo = pods_[ep].load;
  pods_[o].load += OwnerGainWithoutAnEcho(ri);
  pods_[ep].load -= EchoShare(ri, rg.echoes.size());
  DropEcho(ri, pod);
  Action a;
  a.type = ActionType::kRemoveEcho;
  a.range = rg.id;
  a.pod = pod;
  a.reason = reason;
  a.effect = {EffectOf(o, before_owner), EffectOf(ep, before_echo)};
  Commit(std::move(a));
}

void Planner::RemoveEchoes() {
  for (std::size_t r = 0; r < st_.ranges.size(); ++r) {
    auto& rg = st_.ranges[r];
    if (rg.echoes.empty() || RangeCooling(rg.id) || rg.state != RangeState::kStable ||
        echoed_.count(rg.id))
      continue;
    std::size_t o = pod_idx_.at(rg.owner);
    const double gain = OwnerGainWithoutAnEcho(r);
    // An echo on a warm pod was a pre-warm for a promotion (prewarm.cc):
    // with the owner no longer hot it goes first, whatever the range's load.
    auto it = std::find_if(rg.echoes.begin(), rg.echoes.end(), [&](const std::string& ep) {
      auto p = pod_idx_.find(ep);
      return p != pod_idx_.end() && !Active(p->second);
    });
    const bool prewarm = it != rg.echoes.end();
    // An echo of a range that is not read-heavy sheds fewer reads than its
    // sync costs: on an active pod it is a pre-warm whose promotion came and
    // whose move did not, and goes even while the owner is hot.
    const bool reads = ReadFraction(rg) >= pol_.read_heavy_fraction;
    if (pods_[o].hot && (prewarm || reads)) continue;
    if (!prewarm) {
      it = rg.echoes.end() - 1;
      if (reads && ranges_[r].load > 0.5 * pol_.target_utilization * Cap(o)) continue;
    }
    if ((pods_[o].load + gain) / Cap(o) > pol_.target_utilization) continue;
    const std::string echo_pod = *it;
    CommitRemoveEcho(
        r, echo_pod,
        prewarm ? "echo on warm pod " + echo_pod + " (a pre-warm) no longer needed: owner " +
                      rg.owner + " is not hot and stays under targetUtilization"
        : reads
            ? "range load " + Pct(ranges_[r].load / Cap(o)) +
                  " is below half of targetUtilization; owner " + rg.owner + " can serve its reads"
            : "range is " + Pct(ReadFraction(rg)) + " reads, under readHeavyFraction " +
                  Pct(pol_.read_heavy_fraction) + ": its echo on " + echo_pod +
                  " costs more in sync than it sheds; owner " + rg.owner +
                  " stays under targetUtilization without it");
  }
}

void Planner::Merges() {
  int configured =
      st_.configured_ranges > 0 ? st_.configured_ranges : static_cast<int>(in_.state.ranges.size());
  int allowed = static_cast<int>(st_.ranges.size()) - configured;
  if (allowed <= 0) return;
  double total = 0;
  for (const auto& r : ranges_) total += r.load;
  double mean = total / static_cast<double>(std::max<std::size_t>(1, ranges_.size()));
  std::vector<std::size_t> order(st_.ranges.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return st_.ranges[a].start < st_.ranges[b].start;
  });
  std::set<std::size_t> merged;
  for (std::size_t i = 0; i + 1 < order.size() && allowed > 0; ++i) {
    std::size_t a = order[i], b = order[i + 1];
    const auto& ra = st_.ranges[a];
    const auto& rb = st_.ranges[b];
    if (merged.count(a) || ra.end == UINT32_MAX || ra.end + 1 != rb.start || ra.owner != rb.owner)
      continue;
    if (ra.state != RangeState::kStable || rb.state != RangeState::kStable || !ra.echoes.empty() ||
        !rb.echoes.empty() || RangeCooling(ra.id) || RangeCooling(rb.id) ||
        split_new_.count(ra.id) || split_new_.count(rb.id) || pods_[pod_idx_.at(ra.owner)].hot) {
      continue;
    }
    double together = ranges_[a].load + ranges_[b].load;
    if (together > mean) continue;
    std::size_t o = pod_idx_.at(ra.owner);
    Action act;
    act.type = ActionType::kMerge;
    act.range = ra.id;
    act.other = rb.id;
    act.reason = "adjacent cold ranges on " + ra.owner + " (together " + Pct(together / Cap(o)) +
                 ", below the mean range load); " + std::to_string(st_.ranges.size()) +
                 " ranges > configured " + std::to_string(configured);
    act.effect.push_back({ra.owner, pods_[o].load / Cap(o), pods_[o].load / Cap(o)});
    Commit(std::move(act));
    merged.insert(a);
    merged.insert(b);
    --allowed;
  }
}

void Planner::ScaleIn() {
  double obs = 0, cap = 0, pred = 0;
  std::vector<PodLoad> cands;
  int active = 0, warm = 0;
  for (std::size_t p = 0; p < st_.pods.size(); ++p) {
    if (!Active(p)) {
      ++warm;
      continue;
    }
    ++active;
    obs += pods_[p].observed;
    pred += pods_[p].load;
    cap += Cap(p);
    cands.push_back({st_.pods[p].name, pods_[p].observed, OwnedRanges(p).size()});
  }
  if (active <= st_.min_replicas || cap <= 0) return;
  double mean_obs = obs / cap;
  if (mean_obs >= pol_.scale_in_utilization) return;
  if (!in_.history.low_load_since) {
    plan_.notes.push_back(
        {"plan", "observed utilization " + Pct(mean_obs) +
                     " is below scaleInUtilization; history.lowLoadSince not set yet"});
    return;
  }
  int64_t low_for = in_.now - *in_.history.low_load_since;
  if (low_for < pol_.scale_in_stabilization_seconds) {
    plan_.notes.push_back(
        {"plan", "observed utilization " + Pct(mean_obs) + " low for " +
                     Secs(static_cast<double>(low_for)) + " of the " +
                     Secs(static_cast<double>(pol_.scale_in_stabilization_seconds)) +
                     " scaleInStabilization"});
    return;
  }
  if (in_.history.last_promotion &&
      in_.now - *in_.history.last_promotion < pol_.scale_in_stabilization_seconds) {
    plan_.notes.push_back(
        {"plan", "observed utilization " + Pct(mean_obs) + " is low, but a pod was promoted " +
                     Secs(static_cast<double>(in_.now - *in_.history.last_promotion)) +
                     " ago: no scale-in within scaleInStabilization " +
                     Secs(static_cast<double>(pol_.scale_in_stabilization_seconds)) +
                     " of a promotion"});
    return;
  }
  auto victims = PickScaleInVictims(cands, 1);
  if (victims.empty()) return;
  std::size_t v = pod_idx_.at(victims[0]);
  if (PodCooling(victims[0])) {
    // The pod the scale-in would take was acted on (promoted) within the
    // cooldown: taking it, or another in its place, now would be a flap.
    if (flaps_.insert(victims[0]).second) {
      ++plan_.flaps_refused;
      plan_.flap_pods.push_back(victims[0]);
    }
    plan_.blocked.push_back({victims[0], "not scaled in: acted on less than cooldown " +
                                             Secs(static_cast<double>(pol_.cooldown_seconds)) +
                                             " ago (flap refused)"});
    return;
  }
  if (cap - Cap(v) <= 0) return;  // never scale in to zero capacity
  if (pred / (cap - Cap(v)) > pol_.target_utilization) {
    plan_.notes.push_back({"plan",
                           "observed load is low but the forecast for the remaining pods exceeds "
                           "targetUtilization; not scaling in"});
    return;
  }
  for (std::size_t p = 0; p < st_.pods.size(); ++p) {
    auto f = in_.forecasts.pods.find(st_.pods[p].name);
    if (Active(p) && f != in_.forecasts.pods.end() && f->second.trusted &&
        f->second.prob_exceed >= pol_.confidence) {
      return;
    }
  }
  DrainAndRemove(v, NextVictims(cands, v, obs, pred, cap, active), mean_obs, low_for, warm);
}

// The pods the following scale-ins would take at today's load: in victim
// order, while the pods left would still be observed below
// scaleInUtilization, predicted within targetUtilization and above
// minReplicas. The drain gives them nothing while others have room, so that
// a run of scale-ins moves each range once rather than onto the next victim.
std::vector<std::size_t> Planner::NextVictims(const std::vector<PodLoad>& cands, std::size_t v,
                                              double obs, double pred, double cap,
                                              int active) const {
  std::vector<std::size_t> next;
  double left = cap - Cap(v);
  int remaining = active - 1;
  for (const auto& name : PickScaleInVictims(cands, cands.size())) {
    const std::size_t p = pod_idx_.at(name);
    if (p == v) continue;
    const double after = left - Cap(p);
    if (remaining <= st_.min_replicas || after <= 0 || obs / after >= pol_.scale_in_utilization ||
        pred / after > pol_.target_utilization) {
      break;
    }
    next.push_back(p);
    left = after;
    --remaining;
  }
  return next;
}

// Echoes hosted on victim v go first, then its ranges move (largest first);
// once it owns nothing it is demoted (warm pool not full) or scaled in.
void Planner::DrainAndRemove(std::size_t v, const std::vector<std::size_t>& next, double mean_obs,
                             int64_t low_for, int warm) {
  const std::string victim = st_.pods[v].name;
  for (std::size_t r = 0; r < st_.ranges.size(); ++r) {
    if (!EchoesOn(st_.ranges[r], victim)) continue;
    CommitRemoveEcho(r, victim, "drain " + victim + " for scale-in");
  }
  std::vector<std::size_t> owned = OwnedRanges(v);
  std::sort(owned.begin(), owned.end(), [&](std::size_t a, std::size_t b) {
    double sa = OwnerShare(a, st_.ranges[a].echoes.size()),
           sb = OwnerShare(b, st_.ranges[b].echoes.size());
    return sa != sb ? sa > sb : st_.ranges[a].id < st_.ranges[b].id;
  });
  pods_[v].hot = true;  // never a receiver while draining
  // The next victims receive nothing in a first pass; what found no other
  // room may go to them in a second.
  std::vector<bool> was_hot;
  for (std::size_t p : next) {
    was_hot.push_back(pods_[p].hot);
    pods_[p].hot = true;
  }
  std::size_t left = owned.size();
  std::vector<std::size_t> unplaced;
  const std::string why = "drain " + victim + " for scale-in: observed utilization " +
                          Pct(mean_obs) + " below " + Pct(pol_.scale_in_utilization) + " for " +
                          Secs(static_cast<double>(low_for));
  for (std::size_t r : owned) {
    if (!Movable(r)) {
      plan_.blocked.push_back({"range/" + std::to_string(st_.ranges[r].id),
                               "drain of " + victim + " waits: range in cooldown or migrating"});
      continue;
    }
    if (!next.empty() &&
        PickTarget(OwnerShare(r, st_.ranges[r].echoes.size()), v, &st_.ranges[r]) < 0) {
      unplaced.push_back(r);
    } else if (MoveRange(r, why, 0, false)) {
      --left;
    }
  }
  for (std::size_t i = 0; i < next.size(); ++i) pods_[next[i]].hot = was_hot[i];
  for (std::size_t r : unplaced) {
    if (MoveRange(r, why, 0, false)) --left;
  }
  if (left > 0) {
    plan_.blocked.push_back(
        {victim, "scale-in waits for drain: " + std::to_string(left) + " ranges left"});
    return;
  }
  Action a;
  a.type = warm < st_.warm_pool_size ? ActionType::kDemote : ActionType::kScaleIn;
  a.pod = victim;
  a.reason = "observed utilization " + Pct(mean_obs) + " below scaleInUtilization " +
             Pct(pol_.scale_in_utilization) + " for " + Secs(static_cast<double>(low_for)) +
             " (>= " + Secs(static_cast<double>(pol_.scale_in_stabilization_seconds)) + ")" +
             (a.type == ActionType::kDemote ? "; back to the warm pool" : "; warm pool full");
  a.effect.push_back({victim, pods_[v].load_before / Cap(v), 0});
  if (a.type == ActionType::kDemote) st_.pods[v].role = PodRole::kWarm;
  Commit(std::move(a));
}

}  // namespace shardcast::planner::internal
