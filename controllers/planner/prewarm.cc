// Pre-warming: one lead time before a promotion falls due, the ranges the
// promoted pod would receive are echoed onto it while it is still warm. The
// echoes fill and serve reads; once the promotion is due, the moves go to
// the echo (MoveRange prefers it) and only catch up (docs/agent.md,
// "Pre-warmed moves").
#include <algorithm>

#include "controllers/planner/planner_internal.h"

namespace shardcast::planner::internal {

long Planner::NextWarmPod() const {
  long best = -1;
  for (std::size_t p = 0; p < st_.pods.size(); ++p) {
    if (Active(p) || !st_.pods[p].ready || PodCooling(st_.pods[p].name)) continue;
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

void Planner::Prewarm(const HotPod& h, bool promotion_needed) {
  if (!pol_.prewarm || !promotion_needed || h.excess <= 0) return;
  // The echoes fill during one more lead time, before the promotion is due.
  if (h.ttc > h.within + h.needed) return;
  if (ActiveCount() >= st_.max_replicas) return;
  const long w = NextWarmPod();
  if (w < 0) return;
  const auto t = static_cast<std::size_t>(w);
  const double excess = pods_[h.pod].load - pol_.target_utilization * Cap(h.pod);
  if (excess <= 0) return;
  std::vector<MoveCandidate> cands = MoveCandidates(h, excess);
  std::vector<double> shares;
  for (const auto& c : cands) shares.push_back(c.share);
  std::vector<bool> used(cands.size(), false);
  const std::vector<std::size_t> chosen =
      ChooseFewest(cands, excess, MinCount(shares, excess), used);
  std::size_t added = 0, held = 0;
  for (std::size_t i : chosen) {
    const std::size_t r = cands[i].r;
    const auto& rg = st_.ranges[r];
    if (std::find(rg.echoes.begin(), rg.echoes.end(), Name(t)) != rg.echoes.end()) {
      ++held;
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
    ++added;
  }
  if (added + held > 0) {
    plan_.notes.push_back({Name(h.pod), "pre-warming " + Name(t) + " with " +
                                            std::to_string(added + held) + " of the " +
                                            std::to_string(chosen.size()) +
                                            " ranges it would receive (" + std::to_string(held) +
                                            " already echoed there)"});
  }
}

}  // namespace shardcast::planner::internal
