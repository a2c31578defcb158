// Relieving hot pods: which pods are hot and due, giant ranges first (echo the
// read-heavy ones, split the others), then the fewest moves that bring each
// due pod back to targetUtilization.
#include <algorithm>
#include <functional>
#include <numeric>

#include "controllers/planner/planner_internal.h"

namespace shardcast::planner::internal {

std::vector<std::size_t> ChooseFewest(const std::vector<MoveCandidate>& cands, double excess,
                                      std::size_t budget_k, std::vector<bool>& used) {
  std::vector<std::size_t> chosen;
  double left = excess;
  while (left > 1e-9 && budget_k > 0) {
    long pick = -1;
    for (std::size_t i = 0; i < cands.size() && pick < 0; ++i) {
      if (used[i]) continue;
      double rest = left - cands[i].share;
      if (rest <= 1e-9) {
        pick = static_cast<long>(i);
        break;
      }
      if (budget_k == 1) continue;
      // Can the remaining budget still cover the rest, taking the largest?
      std::vector<double> others;
      for (std::size_t j = 0; j < cands.size(); ++j) {
        if (!used[j] && j != i) others.push_back(cands[j].share);
      }
      std::size_t take = std::min(budget_k - 1, others.size());
      std::partial_sort(others.begin(), others.begin() + static_cast<long>(take), others.end(),
                        std::greater<double>());
      double cover = std::accumulate(others.begin(), others.begin() + static_cast<long>(take), 0.0);
      if (cover >= rest - 1e-9) pick = static_cast<long>(i);
    }
    if (pick < 0) {
      // Cannot cover (not enough movable load): take the largest remaining.
      for (std::size_t i = 0; i < cands.size(); ++i) {
        if (!used[i] &&
            (pick < 0 || cands[i].share > cands[static_cast<std::size_t>(pick)].share)) {
          pick = static_cast<long>(i);
        }
      }
      if (pick < 0) break;
    }
    used[static_cast<std::size_t>(pick)] = true;
    chosen.push_back(static_cast<std::size_t>(pick));
    left -= cands[static_cast<std::size_t>(pick)].share;
    --budget_k;
  }
  return chosen;
}

// An observed overload is acted on when it is confirmed: seen in two samples
// in a row, or over by more than lowConfidence.margin, or within the pod's
// forecast (P(exceed) >= confidence, or its quantile at the policy's
// confidence reaches maxUtilization), or the pod has no trusted, confident
// forecast to weigh it against (it is then planned like the reactive arm).
// A one-sample spike on a pod whose forecast band stays below the threshold
// is noted and waits for the next sample.
bool Planner::ConfirmedOver(std::size_t p, double obs_u) {
  const PodModel& pod = pods_[p];
  if (!in_.history.unconfirmed_over.count(Name(p)) || !pod.trusted || pod.forecast == nullptr ||
      pod.forecast->prob_exceed >= pol_.confidence ||
      obs_u > pol_.max_utilization + pol_.low_confidence_margin) {
    return true;
  }
  SeriesForecast band = *pod.forecast;
  band.observed = 0;  // the band alone, without the sample it is weighed against
  const double q = QuantileAt(band, pol_.confidence) / Cap(p);
  if (q >= pol_.max_utilization) return true;
  plan_.notes.push_back(
      {Name(p), "observed load " + Pct(obs_u) + " is over maxUtilization " +
                    Pct(pol_.max_utilization) + " in one sample only and its forecast (P=" +
                    Num(pod.forecast->prob_exceed) + ", " + Pct(q) +
                    " at the policy's confidence) does not expect a crossing; acting when the "
                    "next sample is over too or it exceeds " +
                    Pct(pol_.max_utilization + pol_.low_confidence_margin)});
  return false;
}

// Active pods over maxUtilization now (confirmed), forecast to cross it (trusted and
// confident), planned reactively with a margin (low confidence), or raised
// over it by a declared range event; most urgent first. `promotion_needed`
// when their excess exceeds the others' spare room.
std::vector<HotPod> Planner::FindHotPods(bool* promotion_needed) {
  std::vector<HotPod> hot;
  double total_excess = 0, total_spare = 0;
  for (std::size_t p = 0; p < st_.pods.size(); ++p) {
    if (!Active(p)) continue;
    PodModel& pod = pods_[p];
    double obs_u = pod.observed / Cap(p);
    double pred_u = pod.load / Cap(p);
    const SeriesForecast* f = pod.forecast;
    bool over_now = obs_u > pol_.max_utilization && ConfirmedOver(p, obs_u);
    bool forecast_hot = f != nullptr ? (pod.trusted && f->prob_exceed >= pol_.confidence)
                                     : pred_u > pol_.max_utilization;
    bool margin_hot = pod.low_conf && obs_u > pol_.max_utilization - pol_.low_confidence_margin;
    bool event_hot = pod.event_ttc >= 0 && pred_u > pol_.max_utilization;
    if (!over_now && !forecast_hot && !margin_hot && !event_hot) continue;
    pod.hot = true;
    if (over_now || f == nullptr || margin_hot || event_hot) pod.prob = std::max(pod.prob, 1.0);
    double ttc = 0;
    bool by_event = false;
    if (!over_now && !margin_hot) {
      double fc = forecast_hot && f != nullptr && f->time_to_crossing_seconds
                      ? *f->time_to_crossing_seconds
                      : (forecast_hot ? 0.0 : -1.0);
      double ev = event_hot ? pod.event_ttc : -1.0;
      ttc = fc < 0 ? ev : ev < 0 ? fc : std::min(fc, ev);
      by_event = ev >= 0 && ttc == ev;
    }
    if (pod.low_conf && margin_hot && !over_now) {
      plan_.notes.push_back(
          {Name(p), "forecast band p50..p90 " + Pct(f->p50 / Cap(p)) + ".." + Pct(f->p90 / Cap(p)) +
                        " is too wide to trust; acting on observed load " + Pct(obs_u) +
                        " with margin " + Pct(pol_.low_confidence_margin)});
    }
    double excess = pod.load - pol_.target_utilization * Cap(p);
    std::vector<double> shares;
    for (std::size_t r : OwnedRanges(p)) {
      if (Movable(r) && !Giant(r)) shares.push_back(OwnerShare(r, st_.ranges[r].echoes.size()));
    }
    std::size_t k = excess > 0 ? MinCount(shares, excess) : 0;
    hot.push_back({p, ttc, excess, k, false, by_event});
    total_excess += std::max(0.0, excess);
  }
  for (std::size_t p = 0; p < st_.pods.size(); ++p) {
    if (Active(p) && st_.pods[p].ready && !pods_[p].hot) {
      total_spare += std::max(0.0, pol_.target_utilization * Cap(p) - pods_[p].load);
    }
  }
  *promotion_needed = total_excess > total_spare;
  std::sort(hot.begin(), hot.end(), [&](const HotPod& a, const HotPod& b) {
    if (a.ttc != b.ttc) return a.ttc < b.ttc;
    double ua = pods_[a.pod].load / Cap(a.pod), ub = pods_[b.pod].load / Cap(b.pod);
    if (ua != ub) return ua > ub;
    return st_.pods[a.pod].name < st_.pods[b.pod].name;
  });
  return hot;
}

// A hot pod is due when its crossing is within the lead its moves (and a
// promotion, if needed) take plus a margin; the others are noted.
void Planner::MarkDue(std::vector<HotPod>& hot, bool promotion_needed) {
  // The pods crossing sooner (hot is most urgent first) move first and
  // share maxConcurrentMigrations: a pod's moves queue behind theirs.
  std::size_t sooner = 0;
  for (auto& h : hot) {
    const std::string& name = Name(h.pod);
    // A promotion takes the longer of leadTime.promotion and the measured
    // median of the promotions completed lately.
    const double promotion =
        std::max(pol_.promotion_lead_seconds, in_.history.promotion_seconds.value_or(0.0));
    // Moves run maxConcurrentMigrations at a time, each taking the longer of
    // leadTime.perRange and the measured median move.
    const double per_move =
        std::max(pol_.per_range_lead_seconds, in_.history.move_seconds.value_or(0.0));
    const std::size_t waves = MoveWaves(sooner + h.kmin, pol_.max_concurrent_migrations);
    const std::size_t queued = sooner;
    sooner += h.kmin;
    double needed = per_move * static_cast<double>(waves) + (promotion_needed ? promotion : 0);
    double margin = std::max(pol_.lead_margin_seconds, 0.25 * needed);
    // A declared event is met ahead: the capacity is in place a lead time
    // before it starts, so the work starts a lead time earlier still.
    double ahead = h.event ? needed : 0;
    // The crossing is seen again only at the next forecast: act now when
    // waiting that long would leave too little lead.
    double within = ahead + needed + margin + pol_.decision_interval_seconds;
    h.due = h.ttc <= within;
    h.within = within;
    h.needed = needed;
    if (!h.due) {
      plan_.notes.push_back(
          {name,
           std::string(h.event ? "a declared event raises it over" : "predicted to exceed") +
               " maxUtilization " + Pct(pol_.max_utilization) + " (P=" + Num(pods_[h.pod].prob) +
               ") in " + Secs(h.ttc) + "; acting when within " + Secs(within) + " (lead for " +
               std::to_string(h.kmin) + " moves" +
               (queued > 0 ? " after " + std::to_string(queued) + " of pods crossing sooner" : "") +
               " in " + std::to_string(waves) + (waves == 1 ? " wave of " : " waves of ") +
               Secs(per_move) + (promotion_needed ? " + promotion " + Secs(promotion) : "") +
               (pol_.decision_interval_seconds > 0
                    ? ", one forecast step " + Secs(pol_.decision_interval_seconds)
                    : "") +
               (h.event ? ", done a lead time before it starts" : "") + ")"});
      continue;
    }
    if (h.excess <= 0) {
      plan_.notes.push_back(
          {name,
           "forecast crosses maxUtilization but predicted load at confidence is within "
           "targetUtilization; nothing to move"});
    }
  }
}

bool Planner::EchoSheds(std::size_t r) const {
  const std::size_t e = st_.ranges[r].echoes.size();
  return OwnerShare(r, e + 1) < OwnerShare(r, e) - 1e-12;
}

bool Planner::AddEcho(const HotPod& h, std::size_t r, const std::string& why) {
  auto& rg = st_.ranges[r];
  std::string subject = "range/" + std::to_string(rg.id);
  if (!EchoSheds(r)) {
    plan_.blocked.push_back({subject, "hot, but another echo would cost its owner " + Name(h.pod) +
                                          " more in sync (echoSyncCost " +
                                          Num(pol_.echo_sync_cost) + ") than it sheds in reads"});
    return false;
  }
  // Existing echoes also shed load to the new one.
  double echo_share = EchoShare(r, rg.echoes.size() + 1);
  long to = PickTarget(echo_share, h.pod, &rg);
  if (to < 0) {
    plan_.blocked.push_back({subject, "read-heavy and hot, but no ready pod has room for an echo"});
    return false;
  }
  if (moves_emitted_ >= budget_) {
    plan_.blocked.push_back({subject, "AddEcho deferred: " + budget_reason_});
    return false;
  }
  CommitEcho(h, r, static_cast<std::size_t>(to),
             "range load " + Pct(ranges_[r].load / Cap(h.pod)) + " of " + Name(h.pod) + " " + why +
                 " and is " + Pct(*rg.read_fraction) + " reads");
  return true;
}

void Planner::CommitEcho(const HotPod& h, std::size_t r, std::size_t t, const std::string& reason) {
  auto& rg = st_.ranges[r];
  std::size_t e = rg.echoes.size();
  const double before_owner = pods_[h.pod].load, before_to = pods_[t].load;
  pods_[h.pod].load += OwnerShare(r, e + 1) - OwnerShare(r, e);
  for (const auto& ep : rg.echoes) {
    pods_[pod_idx_.at(ep)].load += EchoShare(r, e + 1) - EchoShare(r, e);
  }
  pods_[t].load += EchoShare(r, e + 1);
  ++moves_emitted_;
  Action a;
  a.type = ActionType::kAddEcho;
  a.range = rg.id;
  a.pod = st_.pods[t].name;
  a.reason = reason;
  a.effect = {EffectOf(h.pod, before_owner), EffectOf(t, before_to)};
  rg.echoes.push_back(st_.pods[t].name);
  echoed_.insert(rg.id);
  Commit(std::move(a));
}

// A due pod's hot read-heavy ranges (readFraction >= readHeavyFraction, load
// >= hotRangeFraction of its capacity, no echo yet), hottest first, get an
// echo while the pod is above target: reads spread without moving the range.
void Planner::EchoHotReads(const HotPod& h) {
  std::vector<std::size_t> cands;
  for (std::size_t r : OwnedRanges(h.pod)) {
    const auto& rg = st_.ranges[r];
    if (!Movable(r) || Giant(r) || split_new_.count(rg.id) || !rg.echoes.empty() ||
        !rg.read_fraction || *rg.read_fraction < pol_.read_heavy_fraction ||
        ranges_[r].load < pol_.hot_range_fraction * Cap(h.pod)) {
      continue;
    }
    cands.push_back(r);
  }
  std::sort(cands.begin(), cands.end(), [&](std::size_t a, std::size_t b) {
    if (ranges_[a].load != ranges_[b].load) return ranges_[a].load > ranges_[b].load;
    return st_.ranges[a].id < st_.ranges[b].id;
  });
  for (std::size_t r : cands) {
    if (pods_[h.pod].load <= pol_.target_utilization * Cap(h.pod) + 1e-9) break;
    AddEcho(h, r, "is hot (>= " + Pct(pol_.hot_range_fraction) + " of a pod)");
  }
}

void Planner::ShedEchoes(const HotPod& h) {
  const std::string& name = Name(h.pod);
  std::vector<std::size_t> held;
  for (std::size_t r = 0; r < st_.ranges.size(); ++r) {
    const auto& rg = st_.ranges[r];
    if (rg.owner == name || rg.state != RangeState::kStable || RangeCooling(rg.id) ||
        !EchoesOn(rg, name)) {
      continue;
    }
    held.push_back(r);
  }
  auto share = [&](std::size_t r) { return EchoShare(r, st_.ranges[r].echoes.size()); };
  std::sort(held.begin(), held.end(), [&](std::size_t a, std::size_t b) {
    if (share(a) != share(b)) return share(a) > share(b);
    return st_.ranges[a].id < st_.ranges[b].id;
  });
  for (std::size_t r : held) {
    if (pods_[h.pod].load <= pol_.target_utilization * Cap(h.pod) + 1e-9) break;
    const auto& rg = st_.ranges[r];
    const std::size_t o = pod_idx_.at(rg.owner);
    const double owner_after = pods_[o].load + OwnerGainWithoutAnEcho(r);
    if (owner_after > pol_.target_utilization * Cap(o) + 1e-9) {
      plan_.blocked.push_back({"range/" + std::to_string(rg.id),
                               "its echo on hot " + name + " stays: owner " + rg.owner +
                                   " would reach " + Pct(owner_after / Cap(o)) + " without it"});
      continue;
    }
    CommitRemoveEcho(r, name,
                     name + " predicted " + Pct(pods_[h.pod].load_before / Cap(h.pod)) +
                         " is relieved of its echo of range " + std::to_string(rg.id) + " (" +
                         Pct(share(r) / Cap(h.pod)) + " with sync) first; owner " + rg.owner +
                         " takes the reads back at " + Pct(owner_after / Cap(o)));
  }
}

void Planner::SplitRange(const HotPod& h, std::size_t r) {
  auto& rg = st_.ranges[r];
  const double L = ranges_[r].load;
  Action a;
  a.type = ActionType::kSplit;
  a.range = rg.id;
  uint32_t mid = rg.start + (rg.end - rg.start) / 2;
  a.split_at = mid + 1;
  // The smallest id not in use, so that ids stay below 2 x kMaxRanges however
  // many splits and merges a ShardSet goes through (clients refuse larger ids).
  std::vector<bool> used(st_.ranges.size() + 1, false);
  for (const auto& x : st_.ranges) {
    if (x.id < used.size()) used[x.id] = true;
  }
  uint32_t new_id = 0;
  while (used[new_id]) ++new_id;
  a.other = new_id;
  a.reason = "range load " + Pct(L / Cap(h.pod)) + " alone exceeds one pod's target " +
             Pct(pol_.target_utilization) + "; halves can be moved next";
  a.effect.push_back({Name(h.pod), pods_[h.pod].load / Cap(h.pod), pods_[h.pod].load / Cap(h.pod)});
  Range upper = rg;
  upper.id = new_id;
  upper.start = mid + 1;
  if (rg.size_bytes) {
    upper.size_bytes = *rg.size_bytes / 2;
    rg.size_bytes = *rg.size_bytes / 2;
  }
  rg.end = mid;
  ranges_[r].load = L / 2;
  ranges_[r].observed /= 2;
  ranges_.push_back({L / 2, ranges_[r].observed, h.pod});
  range_idx_[new_id] = st_.ranges.size();
  pods_[h.pod].owned.push_back(st_.ranges.size());
  st_.ranges.push_back(upper);
  split_new_.insert(new_id);
  Commit(std::move(a));
}

// A range too hot for any one pod: echo it if read-heavy (and an echo sheds
// more reads than its sync costs the owner), else split it.
void Planner::RelieveGiant(const HotPod& h, std::size_t r) {
  const auto& rg = st_.ranges[r];
  std::string subject = "range/" + std::to_string(rg.id);
  if (!Movable(r)) {
    plan_.blocked.push_back(
        {subject, "too hot for one pod but " +
                      std::string(RangeCooling(rg.id) ? "in cooldown" : "not stable")});
    return;
  }
  if (rg.read_fraction && *rg.read_fraction >= pol_.read_heavy_fraction && EchoSheds(r)) {
    AddEcho(h, r, "exceeds one pod's target");
  } else if (rg.end > rg.start && st_.ranges.size() >= kMaxRanges) {
    plan_.blocked.push_back(
        {subject, "too hot for one pod and not read-heavy, but the ShardSet has " +
                      std::to_string(st_.ranges.size()) + " ranges, the most a split may reach (" +
                      std::to_string(kMaxRanges) + ")"});
  } else if (rg.end > rg.start) {
    SplitRange(h, r);
  } else {
    plan_.blocked.push_back({subject, "single-key range too hot for one pod and not read-heavy"});
  }
}

std::vector<MoveCandidate> Planner::MoveCandidates(const HotPod& h, double excess) const {
  std::vector<MoveCandidate> cands;
  for (std::size_t r : OwnedRanges(h.pod)) {
    if (!Movable(r) || Giant(r) || split_new_.count(st_.ranges[r].id) ||
        echoed_.count(st_.ranges[r].id))
      continue;
    double share = OwnerShare(r, st_.ranges[r].echoes.size());
    double cost =
        st_.ranges[r].size_bytes ? std::max(*st_.ranges[r].size_bytes, 1.0) / mean_size_ : 1.0;
    // A move to a pod that already echoes the range carries only the writes
    // since (docs/agent.md, pre-warmed moves).
    if (Prewarmed(r)) cost *= 0.1;
    double benefit = std::min(share, excess) / Cap(h.pod);
    cands.push_back({r, share, pods_[h.pod].prob * benefit / cost});
  }
  std::sort(cands.begin(), cands.end(), [&](const MoveCandidate& a, const MoveCandidate& b) {
    if (a.score != b.score) return a.score > b.score;
    return st_.ranges[a.r].id < st_.ranges[b.r].id;
  });
  return cands;
}

// Moves for one due pod: the fewest ranges covering its excess, preferring
// high migration score (P(hot) x benefit / cost) within that count.
void Planner::MoveOff(const HotPod& h) {
  double excess = pods_[h.pod].load - pol_.target_utilization * Cap(h.pod);
  if (excess <= 0) return;
  std::vector<MoveCandidate> cands = MoveCandidates(h, excess);
  std::vector<double> shares;
  for (const auto& c : cands) shares.push_back(c.share);
  std::size_t kmin = MinCount(shares, excess);
  double total_movable = std::accumulate(shares.begin(), shares.end(), 0.0);
  if (total_movable < excess - 1e-9) {
    plan_.blocked.push_back(
        {Name(h.pod), "even moving every movable range leaves it above targetUtilization"});
  }
  plan_.moved_lower_bound += kmin;
  std::vector<bool> used(cands.size(), false);
  std::vector<std::size_t> chosen = ChooseFewest(cands, excess, kmin, used);
  auto larger_first = [&](std::size_t a, std::size_t b) {
    if (cands[a].share != cands[b].share) return cands[a].share > cands[b].share;
    return st_.ranges[cands[a].r].id < st_.ranges[cands[b].r].id;
  };
  std::sort(chosen.begin(), chosen.end(), larger_first);
  relieving_ = &h;
  bool failed = false;
  for (std::size_t i : chosen) {
    std::string why = Name(h.pod) + " predicted " + Pct(pods_[h.pod].load_before / Cap(h.pod)) +
                      " (P(exceed " + Pct(pol_.max_utilization) + ")=" + Num(pods_[h.pod].prob) +
                      ", crossing in " + Secs(h.ttc) + "); moving " +
                      Pct(cands[i].share / Cap(h.pod)) + " toward target " +
                      Pct(pol_.target_utilization);
    if (!MoveRange(cands[i].r, why, cands[i].score, true)) failed = true;
  }
  relieving_ = nullptr;
  // A chosen range found no receiver: cover what is left with smaller
  // ranges that do fit somewhere (more moves, but the pod gets relief).
  if (!failed || moves_emitted_ >= budget_) return;
  std::vector<std::size_t> rest;
  for (std::size_t i = 0; i < cands.size(); ++i) {
    if (!used[i]) rest.push_back(i);
  }
  std::sort(rest.begin(), rest.end(), larger_first);
  for (std::size_t i : rest) {
    if (pods_[h.pod].load <= pol_.target_utilization * Cap(h.pod) + 1e-9 ||
        moves_emitted_ >= budget_)
      break;
    const auto& rg = st_.ranges[cands[i].r];
    if (PickTarget(cands[i].share, h.pod, &rg) < 0) continue;
    MoveRange(cands[i].r,
              Name(h.pod) + " still above target after a blocked move; moving a smaller range",
              cands[i].score, false);
  }
}

void Planner::Relieve() {
  bool promotion_needed = false;
  std::vector<HotPod> hot = FindHotPods(&promotion_needed);
  MarkDue(hot, promotion_needed);
  // Giant ranges first: echo read-heavy ones, split the others.
  for (const auto& h : hot) {
    if (!h.due) continue;
    for (std::size_t r : OwnedRanges(h.pod)) {
      if (Giant(r)) RelieveGiant(h, r);
    }
  }
  for (const auto& h : hot) {
    if (!h.due) continue;
    ShedEchoes(h);
    EchoHotReads(h);
    MoveOff(h);
  }
  for (const auto& h : hot) {
    if (!h.due) Prewarm(h, promotion_needed);
  }
  any_watching_ = !hot.empty();
}

}  // namespace shardcast::planner::internal
