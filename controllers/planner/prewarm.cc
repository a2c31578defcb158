// Pre-warming: one lead time before a promotion falls due, the ranges the
// promoted pod would receive are echoed onto it while it is still warm. The
// echoes fill and serve reads; once the promotion is due, the moves go to
// the echo (MoveRange prefers it) and only catch up (docs/agent.md,
// "Pre-warmed moves").
#include <algorithm>
#include <set>

#include "controllers/planner/planner_internal.h"

namespace shardcast::planner::internal {

long Planner::NextWarmPod(const std::set<std::size_t>& skip) const {
  long best = -1;
  for (std::size_t p = 0; p < st_.pods.size(); ++p) {
    if (Active(p) || !st_.pods[p].ready || PodCooling(st_.pods[p].name) || skip.count(p)) continue;
    if (best < 0 ||
        PodOrdinal(st_.pods[p].name) < PodOrdinal(st_.pods[static_cast<std::size_t>(best)].name)) {
      best = static_cast<long>(p);
    }
  }
  return best;
}

bool Planner::Prewarmed(std::size_t ri) const {
  const auto& rg = st_.ranges[ri];
  return std::any_of(rg.echoes.begin(), rg.echoes.end(), [&](const std::string& ep) {
    auto it = pod_idx_.find(ep);
    return it != pod_idx_.end() && ep != rg.owner && st_.pods[it->second].ready &&
           !pods_[it->second].hot;
  });
}

long Planner::EchoReceiver(std::size_t ri, std::size_t from) const {
  const auto& rg = st_.ranges[ri];
  const std::size_t e = rg.echoes.size();
  long best = -1;
  double best_after = 0;
  for (const auto& ep : rg.echoes) {
    auto it = pod_idx_.find(ep);
    if (it == pod_idx_.end()) continue;
    const std::size_t p = it->second;
    if (p == from || !Active(p) || !st_.pods[p].ready || pods_[p].hot) continue;
    if (pods_[p].ranges + 1 > RangeBound()) continue;
    const double after = (pods_[p].load - EchoShare(ri, e) + OwnerShare(ri, e - 1)) / Cap(p);
    if (after > pol_.target_utilization + 1e-12) continue;
    if (best < 0 || after < best_after) {
      best = static_cast<long>(p);
      best_after = after;
    }
  }
  return best;
}

long Planner::WarmPodFor(std::size_t hot) const {
  // Warm pods holding echoes of h's ranges, and those holding another pod's.
  long mine = -1;
  std::set<std::size_t> taken;
  for (const auto& rg : st_.ranges) {
    for (const auto& ep : rg.echoes) {
      auto it = pod_idx_.find(ep);
      if (it == pod_idx_.end() || Active(it->second)) continue;
      if (!st_.pods[it->second].ready || PodCooling(ep)) continue;
      if (rg.owner == Name(hot)) {
        if (mine < 0) mine = static_cast<long>(it->second);
      } else {
        taken.insert(it->second);
      }
    }
  }
  return mine >= 0 ? mine : NextWarmPod(taken);
}

double Planner::LoadAsOwner(std::size_t t) const {
  double load = 0;
  for (std::size_t r = 0; r < st_.ranges.size(); ++r) {
    if (EchoesOn(st_.ranges[r], Name(t))) load += OwnerShare(r, st_.ranges[r].echoes.size() - 1);
  }
  return load;
}

void Planner::Prewarm(const HotPod& h, bool promotion_needed) {
  if (!pol_.prewarm || !promotion_needed || h.excess <= 0) return;
  // The echoes fill during one more lead time, before the promotion is due.
  if (h.ttc > h.within + h.needed) return;
  if (ActiveCount() >= st_.max_replicas) return;
  const double excess = pods_[h.pod].load - pol_.target_utilization * Cap(h.pod);
  if (excess <= 0) return;
  // One warm pod per hot pod: the one holding its pre-warms, else the
  // lowest-ordinal ready one out of cooldown that holds no other pod's.
  const long w = WarmPodFor(h.pod);
  if (w < 0) return;
  const auto t = static_cast<std::size_t>(w);
  // What its earlier pre-warms (ranges in cooldown since) already cover.
  double covered = 0;
  std::size_t held = 0;
  for (std::size_t r : OwnedRanges(h.pod)) {
    if (!EchoesOn(st_.ranges[r], Name(t))) continue;
    covered += OwnerShare(r, st_.ranges[r].echoes.size());
    ++held;
  }
  std::vector<MoveCandidate> cands;
  for (const auto& c : MoveCandidates(h, excess - covered)) {
    if (!EchoesOn(st_.ranges[c.r], Name(t))) cands.push_back(c);
  }
  std::vector<double> shares;
  for (const auto& c : cands) shares.push_back(c.share);
  std::vector<bool> used(cands.size(), false);
  const double rest = excess - covered;
  const std::vector<std::size_t> chosen =
      rest > 1e-9 ? ChooseFewest(cands, rest, MinCount(shares, rest), used)
                  : std::vector<std::size_t>{};
  // What the pod carries must fit under target both while it echoes the
  // ranges (keeping an echo of a written range in sync costs more than
  // owning it) and once promoted, when it owns them.
  double as_owner = LoadAsOwner(t);
  std::size_t added = 0;
  for (std::size_t i : chosen) {
    const std::size_t r = cands[i].r;
    const auto& rg = st_.ranges[r];
    const double owned = OwnerShare(r, rg.echoes.size());
    const double echoing = pods_[t].load + EchoShare(r, rg.echoes.size() + 1);
    const double most = std::max(echoing, as_owner + owned);
    if (most > pol_.target_utilization * Cap(t) + 1e-9) {
      plan_.blocked.push_back(
          {"range/" + std::to_string(rg.id),
           "not pre-warmed: " + Name(t) + " would carry " + Pct(most / Cap(t)) +
               (echoing >= as_owner + owned ? " echoing it" : " once promoted and owning it")});
      continue;
    }
    if (moves_emitted_ >= budget_) {
      plan_.blocked.push_back(
          {"range/" + std::to_string(rg.id), "pre-warming deferred: " + budget_reason_});
      break;
    }
    CommitEcho(h, r, t,
               "pre-warming warm pod " + Name(t) + ": " + Name(h.pod) + " crosses in " +
                   Secs(h.ttc) + " and needs a promotion then; the move after it only catches up");
    as_owner += owned;
    ++added;
  }
  if (added + held > 0) {
    plan_.notes.push_back({Name(h.pod), "pre-warming " + Name(t) + " with " +
                                            std::to_string(added + held) + " of the " +
                                            std::to_string(chosen.size() + held) +
                                            " ranges it would receive (" + std::to_string(held) +
                                            " already echoed there)"});
  }
}

}  // namespace shardcast::planner::internal
