#include "controllers/planner/planner.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <cstdio>
#include <numeric>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "controllers/planner/placement.h"
#include "controllers/planner/schedule.h"

namespace shardcast::planner {

const char* ActionTypeName(ActionType t) {
  switch (t) {
    case ActionType::kPromote: return "Promote";
    case ActionType::kMove: return "Move";
    case ActionType::kAddEcho: return "AddEcho";
    case ActionType::kRemoveEcho: return "RemoveEcho";
    case ActionType::kSplit: return "Split";
    case ActionType::kMerge: return "Merge";
    case ActionType::kDemote: return "Demote";
    case ActionType::kScaleIn: return "ScaleIn";
  }
  return "?";
}

double QuantileAt(const SeriesForecast& f, double c) {
  double q;
  if (c <= 0.5) {
    q = f.p50;
  } else if (c <= 0.9) {
    q = f.p50 + (f.p90 - f.p50) * (c - 0.5) / 0.4;
  } else if (c < 0.99) {
    q = f.p90 + (f.p99 - f.p90) * (c - 0.9) / 0.09;
  } else {
    q = f.p99;
  }
  return std::max(q, f.observed);
}

namespace {

std::string Pct(double u) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f%%", u * 100.0);
  return buf;
}
std::string Secs(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0fs", s);
  return buf;
}
std::string Num(double v, const char* fmt = "%.2f") {
  char buf[48];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}
bool Finite(double v) { return std::isfinite(v); }

Result<bool> ValidateSeries(const SeriesForecast& f, const std::string& field) {
  for (auto [v, n] : {std::pair{f.observed, "observed"}, {f.p50, "p50"}, {f.p90, "p90"},
                      {f.p99, "p99"}}) {
    if (!Finite(v) || v < 0) {
      return unexpected(Error{field + "." + n + ": must be a finite number >= 0"});
    }
  }
  if (!Finite(f.probExceed) || f.probExceed < 0 || f.probExceed > 1) {
    return unexpected(Error{field + ".probExceed: must be in [0, 1]"});
  }
  if (f.timeToCrossingSeconds && (!Finite(*f.timeToCrossingSeconds) || *f.timeToCrossingSeconds < 0)) {
    return unexpected(Error{field + ".timeToCrossingSeconds: must be >= 0"});
  }
  return true;
}

Result<bool> Validate(const PlanInput& in) {
  const auto& s = in.state;
  const auto& p = in.policy;
  if (s.minReplicas < 0) return unexpected(Error{"shardSet.spec.minReplicas: must be >= 0"});
  if (s.maxReplicas < 1 || s.maxReplicas < s.minReplicas) {
    return unexpected(Error{"shardSet.spec.maxReplicas: must be >= 1 and >= minReplicas"});
  }
  if (s.warmPoolSize < 0) return unexpected(Error{"shardSet.spec.warmPool.size: must be >= 0"});
  std::unordered_set<std::string> names;
  for (std::size_t i = 0; i < s.pods.size(); ++i) {
    const auto& pod = s.pods[i];
    std::string f = "pods[" + std::to_string(i) + "]";
    if (pod.name.empty()) return unexpected(Error{f + ".name: must not be empty"});
    if (!names.insert(pod.name).second) {
      return unexpected(Error{f + ".name: duplicate pod " + pod.name});
    }
    if (!Finite(pod.capacity) || pod.capacity <= 0) {
      return unexpected(Error{f + ".capacity: must be > 0 (pod " + pod.name + ")"});
    }
  }
  std::vector<uint32_t> ids;
  ids.reserve(s.ranges.size());
  std::vector<std::pair<uint32_t, uint32_t>> spans;  // start, id
  for (std::size_t i = 0; i < s.ranges.size(); ++i) {
    const auto& r = s.ranges[i];
    std::string f = "ranges[" + std::to_string(i) + "]";
    ids.push_back(r.id);
    if (r.start > r.end) return unexpected(Error{f + ".start: greater than end"});
    if (!names.count(r.owner)) {
      return unexpected(Error{f + ".owner: unknown pod \"" + r.owner + "\""});
    }
    for (const auto& e : r.echoes) {
      if (!names.count(e)) return unexpected(Error{f + ".echoes: unknown pod \"" + e + "\""});
      if (e == r.owner) return unexpected(Error{f + ".echoes: the owner cannot be its own echo"});
    }
    if (r.readFraction && (!Finite(*r.readFraction) || *r.readFraction < 0 || *r.readFraction > 1)) {
      return unexpected(Error{f + ".readFraction: must be in [0, 1]"});
    }
    if (r.sizeBytes && (!Finite(*r.sizeBytes) || *r.sizeBytes < 0)) {
      return unexpected(Error{f + ".sizeBytes: must be >= 0"});
    }
    spans.push_back({r.start, static_cast<uint32_t>(i)});
  }
  std::sort(ids.begin(), ids.end());
  for (std::size_t i = 1; i < ids.size(); ++i) {
    if (ids[i] == ids[i - 1]) {
      for (std::size_t j = 0; j < s.ranges.size(); ++j) {
        if (s.ranges[j].id == ids[i]) {
          return unexpected(Error{"ranges[" + std::to_string(j) + "].id: duplicate range id " + std::to_string(ids[i])});
        }
      }
    }
  }
  std::sort(spans.begin(), spans.end());
  for (std::size_t i = 1; i < spans.size(); ++i) {
    const auto& a = s.ranges[spans[i - 1].second];
    const auto& b = s.ranges[spans[i].second];
    if (b.start <= a.end) {
      return unexpected(Error{"ranges: range " + std::to_string(b.id) + " overlaps range " +
                              std::to_string(a.id)});
    }
  }
  if (!(p.scaleInUtilization >= 0 && p.scaleInUtilization < p.targetUtilization &&
        p.targetUtilization < p.maxUtilization && p.maxUtilization <= 1)) {
    return unexpected(Error{
        "policy.thresholds: need 0 <= scaleInUtilization < targetUtilization < maxUtilization <= 1"});
  }
  if (!(p.confidence >= 0.5 && p.confidence <= 0.999)) {
    return unexpected(Error{"policy.forecast.confidence: must be in [0.5, 0.999]"});
  }
  // The CRD caps these (1..64, 1..10000); the planner only needs them >= 1.
  if (p.maxConcurrentMigrations < 1) {
    return unexpected(Error{"policy.limits.maxConcurrentMigrations: must be >= 1"});
  }
  if (p.maxMovesPerHour < 1) {
    return unexpected(Error{"policy.limits.maxMovesPerHour: must be >= 1"});
  }
  if (p.cooldownSeconds < 0) return unexpected(Error{"policy.limits.cooldown: must be >= 0"});
  if (p.scaleInStabilizationSeconds < 0) {
    return unexpected(Error{"policy.limits.scaleInStabilization: must be >= 0"});
  }
  if (!(p.promotionLeadSeconds >= 0) || !(p.perRangeLeadSeconds >= 0) || !(p.leadMarginSeconds >= 0)) {
    return unexpected(Error{"policy.migration.leadTime: must be >= 0"});
  }
  if (!(p.readHeavyFraction >= 0 && p.readHeavyFraction <= 1)) {
    return unexpected(Error{"policy.readHeavyFraction: must be in [0, 1]"});
  }
  if (in.history.inFlightMigrations < 0) {
    return unexpected(Error{"history.inFlightMigrations: must be >= 0"});
  }
  for (const auto& [name, f] : in.forecasts.pods) {
    auto ok = ValidateSeries(f, "forecasts.pods[" + name + "]");
    if (!ok) return unexpected(ok.error());
  }
  for (const auto& [id, f] : in.forecasts.ranges) {
    auto ok = ValidateSeries(f, "forecasts.ranges[" + std::to_string(id) + "]");
    if (!ok) return unexpected(ok.error());
  }
  return true;
}

struct Planner {
  const PlanInput& in;
  const Policy& pol;
  ShardSetState st;  // evolves as actions are committed
  Plan plan;

  std::unordered_map<std::string, std::size_t> podIdx;
  std::unordered_map<uint32_t, std::size_t> rangeIdx;
  std::vector<double> rangeLoad;  // predicted total load per range index
  std::vector<double> rangeObs;
  std::vector<double> podLoad;    // predicted, current (mutated)
  std::vector<double> podObs;
  std::vector<double> podLoadBefore;
  std::vector<std::size_t> podMovesIn;
  std::vector<std::size_t> podRanges;  // ranges owned, as the plan so far leaves them
  std::vector<bool> podHot;
  std::vector<bool> podTrusted;
  std::vector<double> podProb;
  double meanSize = 1;
  int budget = 0;
  std::string budgetReason;
  int movesEmitted = 0;

  explicit Planner(const PlanInput& i) : in(i), pol(i.policy), st(i.state) {}

  double Cap(std::size_t p) const { return st.pods[p].capacity; }
  double Util(std::size_t p) const { return podLoad[p] / Cap(p); }
  bool Active(std::size_t p) const { return st.pods[p].role == PodRole::kActive; }
  bool RangeCooling(uint32_t id) const {
    auto it = in.history.rangeLastAction.find(id);
    return it != in.history.rangeLastAction.end() && in.now - it->second < pol.cooldownSeconds;
  }
  bool PodCooling(const std::string& name) const {
    auto it = in.history.podLastAction.find(name);
    return it != in.history.podLastAction.end() && in.now - it->second < pol.cooldownSeconds;
  }
  double ReadFraction(const Range& r) const {
    if (r.readFraction) return *r.readFraction;
    return r.echoes.empty() ? 0.0 : pol.readHeavyFraction;
  }
  // Load the owner carries for range index ri with `echoes` replicas.
  double OwnerShare(std::size_t ri, std::size_t echoes) const {
    double L = rangeLoad[ri], f = ReadFraction(st.ranges[ri]);
    return L * (1 - f) + L * f / static_cast<double>(1 + echoes);
  }
  double EchoShare(std::size_t ri, std::size_t echoes) const {
    if (echoes == 0) return 0;
    return rangeLoad[ri] * ReadFraction(st.ranges[ri]) / static_cast<double>(1 + echoes);
  }

  std::vector<std::vector<std::size_t>> ownedIdx;
  std::vector<const SeriesForecast*> podF;  // per pod, or null
  std::vector<std::size_t> initialOwner;     // pod index per range, before the plan
  double maxReadyCapacity = 0;

  void Index() {
    for (std::size_t i = 0; i < st.pods.size(); ++i) {
      podIdx[st.pods[i].name] = i;
      if (st.pods[i].ready) maxReadyCapacity = std::max(maxReadyCapacity, st.pods[i].capacity);
    }
    ownedIdx.assign(st.pods.size(), {});
    initialOwner.resize(st.ranges.size());
    rangeIdx.reserve(st.ranges.size());
    for (std::size_t i = 0; i < st.ranges.size(); ++i) {
      rangeIdx[st.ranges[i].id] = i;
      initialOwner[i] = podIdx.at(st.ranges[i].owner);
      ownedIdx[initialOwner[i]].push_back(i);
    }
  }

  void ComputeLoads() {
    const std::size_t P = st.pods.size(), R = st.ranges.size();
    rangeLoad.assign(R, 0);
    rangeObs.assign(R, 0);
    podLoad.assign(P, 0);
    podObs.assign(P, 0);
    podTrusted.assign(P, false);
    podProb.assign(P, 0);
    std::vector<bool> known(R, false);
    podF.assign(P, nullptr);
    for (std::size_t p = 0; p < P; ++p) {
      auto f = in.forecasts.pods.find(st.pods[p].name);
      if (f != in.forecasts.pods.end()) {
        podF[p] = &f->second;
        podTrusted[p] = f->second.trusted;
        podProb[p] = f->second.trusted ? f->second.probExceed : 0;
      }
    }
    for (auto f = in.forecasts.ranges.begin(); f != in.forecasts.ranges.end(); ++f) {
      auto ri = rangeIdx.find(f->first);
      if (ri == rangeIdx.end()) continue;  // a range that no longer exists
      const std::size_t r = ri->second;
      known[r] = true;
      rangeObs[r] = f->second.observed;
      std::size_t owner = initialOwner[r];
      bool podReactive = podF[owner] && !podTrusted[owner];
      rangeLoad[r] = (f->second.trusted && !podReactive) ? QuantileAt(f->second, pol.confidence)
                                                        : f->second.observed;
    }
    // Ranges without a forecast share what their pod's forecast leaves over.
    for (std::size_t p = 0; p < P; ++p) {
      auto f = in.forecasts.pods.find(st.pods[p].name);
      if (f == in.forecasts.pods.end()) continue;
      double pred = f->second.trusted ? QuantileAt(f->second, pol.confidence) : f->second.observed;
      double knownPred = 0, knownObs = 0;
      std::vector<std::size_t> unknown;
      for (std::size_t r : ownedIdx[p]) {
        if (known[r]) {
          knownPred += OwnerShare(r, st.ranges[r].echoes.size());
          knownObs += rangeObs[r];
        } else {
          unknown.push_back(r);
        }
      }
      if (unknown.empty()) continue;
      double n = static_cast<double>(unknown.size());
      for (std::size_t r : unknown) {
        rangeLoad[r] = std::max(0.0, pred - knownPred) / n;
        rangeObs[r] = std::max(0.0, f->second.observed - knownObs) / n;
      }
    }
    for (std::size_t r = 0; r < R; ++r) {
      const auto& rg = st.ranges[r];
      std::size_t e = rg.echoes.size();
      std::size_t o = initialOwner[r];
      podLoad[o] += OwnerShare(r, e);
      double obsF = e ? ReadFraction(rg) : 0;
      podObs[o] += rangeObs[r] * (1 - obsF) + rangeObs[r] * obsF / static_cast<double>(1 + e);
      for (const auto& ep : rg.echoes) {
        podLoad[podIdx.at(ep)] += EchoShare(r, e);
        podObs[podIdx.at(ep)] += rangeObs[r] * obsF / static_cast<double>(1 + e);
      }
    }
    // A pod forecast's observed value wins over the sum of its ranges.
    for (std::size_t p = 0; p < P; ++p) {
      auto f = in.forecasts.pods.find(st.pods[p].name);
      if (f != in.forecasts.pods.end()) podObs[p] = f->second.observed;
    }
    double total = 0;
    std::size_t n = 0;
    for (const auto& r : st.ranges) {
      if (r.sizeBytes) {
        total += *r.sizeBytes;
        ++n;
      }
    }
    meanSize = n && total > 0 ? total / static_cast<double>(n) : 1;
    podLoadBefore = podLoad;
    podMovesIn.assign(P, 0);
    podHot.assign(P, false);
    podRanges.assign(P, 0);
    for (std::size_t i = 0; i < P; ++i) podRanges[i] = ownedIdx[i].size();
  }

  // The ShardSet controller's bounded-load limit on ranges per pod.
  std::size_t RangeBound() const {
    if (!(st.loadFactor > 0)) return std::numeric_limits<std::size_t>::max();
    std::size_t n = 0;
    for (std::size_t p = 0; p < st.pods.size(); ++p) n += Active(p) && st.pods[p].ready ? 1 : 0;
    if (n == 0) return std::numeric_limits<std::size_t>::max();
    return static_cast<std::size_t>(
        std::ceil(st.loadFactor * static_cast<double>(st.ranges.size()) / static_cast<double>(n) - 1e-9));
  }

  void ComputeBudget() {
    int recent = 0;
    for (int64_t t : in.history.moveTimes) {
      if (t <= in.now && in.now - t < 3600) ++recent;
    }
    int conc = pol.maxConcurrentMigrations - in.history.inFlightMigrations;
    int hourly = pol.maxMovesPerHour - recent;
    budget = std::max(0, std::min(conc, hourly));
    budgetReason = conc <= hourly
                       ? "limit maxConcurrentMigrations=" + std::to_string(pol.maxConcurrentMigrations) +
                             " (" + std::to_string(in.history.inFlightMigrations) + " in flight)"
                       : "limit maxMovesPerHour=" + std::to_string(pol.maxMovesPerHour) + " (" +
                             std::to_string(recent) + " in the last hour)";
  }

  // Ranges currently owned by pod p (index built once; ranges only leave).
  std::vector<std::size_t> OwnedRanges(std::size_t p) const {
    std::vector<std::size_t> out;
    for (std::size_t r : ownedIdx[p]) {
      if (st.ranges[r].owner == st.pods[p].name) out.push_back(r);
    }
    return out;
  }

  double MaxActiveCapacity() const { return maxReadyCapacity; }

  bool Giant(std::size_t r) const {
    return OwnerShare(r, st.ranges[r].echoes.size()) > pol.targetUtilization * MaxActiveCapacity();
  }

  bool Movable(std::size_t r) const {
    const auto& rg = st.ranges[r];
    return rg.state == RangeState::kStable && !RangeCooling(rg.id);
  }

  // Fewest ranges (largest first) whose shares cover `excess`.
  static std::size_t MinCount(std::vector<double> shares, double excess) {
    std::sort(shares.rbegin(), shares.rend());
    double acc = 0;
    std::size_t k = 0;
    while (acc < excess - 1e-9 && k < shares.size()) acc += shares[k++];
    return k;
  }

  void Effect(Action& a, std::initializer_list<std::size_t> pods,
              const std::vector<double>& before) {
    for (std::size_t p : pods) a.effect.push_back({st.pods[p].name, before[p] / Cap(p), Util(p)});
  }

  void Commit(Action a) { plan.actions.push_back(std::move(a)); }

  // Best receiver for `load` under targetUtilization (weighted score), or -1.
  long PickTarget(double load, std::size_t exclude, const Range* range) const {
    long best = -1;
    double bestScore = -1e300;
    const std::size_t bound = range != nullptr ? RangeBound() : std::numeric_limits<std::size_t>::max();
    for (std::size_t p = 0; p < st.pods.size(); ++p) {
      if (p == exclude || !Active(p) || !st.pods[p].ready || podHot[p]) continue;
      if (podRanges[p] + 1 > bound) continue;
      if (range && std::find(range->echoes.begin(), range->echoes.end(), st.pods[p].name) !=
                       range->echoes.end()) {
        continue;
      }
      double after = (podLoad[p] + load) / Cap(p);
      if (after > pol.targetUtilization + 1e-12) continue;
      double score = (pol.targetUtilization - after) - 0.5 * podObs[p] / Cap(p) -
                     0.5 * podLoadBefore[p] / Cap(p) - 0.05 * static_cast<double>(podMovesIn[p]);
      if (score > bestScore + 1e-12 ||
          (std::abs(score - bestScore) <= 1e-12 && best >= 0 &&
           st.pods[p].name < st.pods[static_cast<std::size_t>(best)].name)) {
        best = static_cast<long>(p);
        bestScore = score;
      }
    }
    return best;
  }

  int ActiveCount() const {
    int n = 0;
    for (std::size_t p = 0; p < st.pods.size(); ++p) n += Active(p) ? 1 : 0;
    return n;
  }

  // Promote the lowest-ordinal ready warm pod, if allowed. Returns its index or -1.
  long TryPromote(std::string& why, const std::string& forWhat) {
    if (ActiveCount() >= st.maxReplicas) {
      why = "maxReplicas=" + std::to_string(st.maxReplicas) + " reached";
      return -1;
    }
    long best = -1;
    bool anyWarm = false;
    for (std::size_t p = 0; p < st.pods.size(); ++p) {
      if (Active(p)) continue;
      anyWarm = true;
      if (!st.pods[p].ready || PodCooling(st.pods[p].name)) continue;
      if (best < 0 || PodOrdinal(st.pods[p].name) < PodOrdinal(st.pods[static_cast<std::size_t>(best)].name)) {
        best = static_cast<long>(p);
      }
    }
    if (best < 0) {
      why = anyWarm ? "warm pool has no ready pod" : "warm pool empty";
      return -1;
    }
    auto p = static_cast<std::size_t>(best);
    st.pods[p].role = PodRole::kActive;
    Action a;
    a.type = ActionType::kPromote;
    a.pod = st.pods[p].name;
    a.reason = "no active pod has room under targetUtilization " + Pct(pol.targetUtilization) +
               " for " + forWhat;
    a.effect.push_back({a.pod, podLoad[p] / Cap(p), podLoad[p] / Cap(p)});
    Commit(std::move(a));
    return best;
  }

  // Emits a Move of range ri to a chosen target; false if blocked (finding recorded).
  bool MoveRange(std::size_t ri, const std::string& why, double score, bool allowPromote) {
    auto& rg = st.ranges[ri];
    std::size_t from = podIdx.at(rg.owner);
    double share = OwnerShare(ri, rg.echoes.size());
    std::string subject = "range/" + std::to_string(rg.id);
    long to = PickTarget(share, from, &rg);
    if (to < 0 && allowPromote) {
      std::string whyNot;
      to = TryPromote(whyNot, "range " + std::to_string(rg.id) + " (" + Pct(share / Cap(from)) + ")");
      if (to < 0) {
        plan.blocked.push_back({subject, "cannot move off " + rg.owner + ": no pod has room under targetUtilization and " + whyNot});
        return false;
      }
      to = PickTarget(share, from, &rg);
      if (to < 0) {
        plan.blocked.push_back({subject, "cannot move off " + rg.owner + ": no room under targetUtilization even on the promoted pod"});
        return false;
      }
    }
    if (to < 0) {
      plan.blocked.push_back({subject, "cannot move off " + rg.owner + ": no ready active pod has room under targetUtilization " + Pct(pol.targetUtilization)});
      return false;
    }
    if (movesEmitted >= budget) {
      plan.blocked.push_back({subject, "move off " + rg.owner + " deferred: " + budgetReason});
      return false;
    }
    auto t = static_cast<std::size_t>(to);
    std::vector<double> before = podLoad;
    podLoad[from] -= share;
    podLoad[t] += share;
    ++podMovesIn[t];
    if (podRanges[from] > 0) --podRanges[from];
    ++podRanges[t];
    ++movesEmitted;
    Action a;
    a.type = ActionType::kMove;
    a.range = rg.id;
    a.from = rg.owner;
    a.to = st.pods[t].name;
    a.score = score;
    a.reason = why;
    Effect(a, {from, t}, before);
    rg.owner = st.pods[t].name;
    Commit(std::move(a));
    return true;
  }

  struct HotPod {
    std::size_t pod;
    double ttc;
    double excess;
    std::size_t kmin;
    bool due = false;
  };

  void Relieve() {
    const std::size_t P = st.pods.size();
    std::vector<HotPod> hot;
    double totalExcess = 0, totalSpare = 0;
    for (std::size_t p = 0; p < P; ++p) {
      if (!Active(p)) continue;
      double obsU = podObs[p] / Cap(p);
      double predU = podLoad[p] / Cap(p);
      auto f = in.forecasts.pods.find(st.pods[p].name);
      bool hasF = f != in.forecasts.pods.end();
      bool overNow = obsU > pol.maxUtilization;
      bool forecastHot = hasF ? (f->second.trusted && f->second.probExceed >= pol.confidence)
                              : predU > pol.maxUtilization;
      if (!overNow && !forecastHot) continue;
      podHot[p] = true;
      if (overNow) podProb[p] = 1;
      else if (!hasF) podProb[p] = 1;
      double ttc = 0;
      if (!overNow && hasF && f->second.timeToCrossingSeconds) ttc = *f->second.timeToCrossingSeconds;
      double excess = podLoad[p] - pol.targetUtilization * Cap(p);
      std::vector<double> shares;
      for (std::size_t r : OwnedRanges(p)) {
        if (Movable(r) && !Giant(r)) shares.push_back(OwnerShare(r, st.ranges[r].echoes.size()));
      }
      std::size_t k = excess > 0 ? MinCount(shares, excess) : 0;
      hot.push_back({p, ttc, excess, k});
      totalExcess += std::max(0.0, excess);
    }
    for (std::size_t p = 0; p < P; ++p) {
      if (Active(p) && st.pods[p].ready && !podHot[p]) {
        totalSpare += std::max(0.0, pol.targetUtilization * Cap(p) - podLoad[p]);
      }
    }
    bool promotionNeeded = totalExcess > totalSpare;
    std::sort(hot.begin(), hot.end(), [&](const HotPod& a, const HotPod& b) {
      if (a.ttc != b.ttc) return a.ttc < b.ttc;
      double ua = podLoad[a.pod] / Cap(a.pod), ub = podLoad[b.pod] / Cap(b.pod);
      if (ua != ub) return ua > ub;
      return st.pods[a.pod].name < st.pods[b.pod].name;
    });
    for (auto& h : hot) {
      const std::string& name = st.pods[h.pod].name;
      double needed = pol.perRangeLeadSeconds * static_cast<double>(h.kmin) +
                      (promotionNeeded ? pol.promotionLeadSeconds : 0);
      double margin = std::max(pol.leadMarginSeconds, 0.25 * needed);
      h.due = h.ttc <= needed + margin;
      if (!h.due) {
        plan.notes.push_back({name, "predicted to exceed maxUtilization " + Pct(pol.maxUtilization) +
                                        " (P=" + Num(podProb[h.pod]) + ") in " + Secs(h.ttc) +
                                        "; acting when within " + Secs(needed + margin) +
                                        " (lead for " + std::to_string(h.kmin) + " moves" +
                                        (promotionNeeded ? " + promotion" : "") + ")"});
        continue;
      }
      if (h.excess <= 0) {
        plan.notes.push_back({name, "forecast crosses maxUtilization but predicted load at confidence is within targetUtilization; nothing to move"});
      }
    }
    // Giant ranges first: echo read-heavy ones, split the others.
    for (auto& h : hot) {
      if (!h.due) continue;
      for (std::size_t r : OwnedRanges(h.pod)) {
        if (!Giant(r)) continue;
        auto& rg = st.ranges[r];
        std::string subject = "range/" + std::to_string(rg.id);
        if (!Movable(r)) {
          plan.blocked.push_back({subject, "too hot for one pod but " + std::string(RangeCooling(rg.id) ? "in cooldown" : "not stable")});
          continue;
        }
        double L = rangeLoad[r];
        if (rg.readFraction && *rg.readFraction >= pol.readHeavyFraction) {
          std::size_t e = rg.echoes.size();
          double newOwner = OwnerShare(r, e + 1), oldOwner = OwnerShare(r, e);
          double echoShare = EchoShare(r, e + 1);
          // Existing echoes also shed load to the new one.
          long to = PickTarget(echoShare, h.pod, &rg);
          if (to < 0) {
            plan.blocked.push_back({subject, "read-heavy and too hot, but no ready pod has room for an echo"});
            continue;
          }
          if (movesEmitted >= budget) {
            plan.blocked.push_back({subject, "AddEcho deferred: " + budgetReason});
            continue;
          }
          auto t = static_cast<std::size_t>(to);
          std::vector<double> before = podLoad;
          podLoad[h.pod] += newOwner - oldOwner;
          for (const auto& ep : rg.echoes) podLoad[podIdx.at(ep)] += echoShare - EchoShare(r, e);
          podLoad[t] += echoShare;
          ++movesEmitted;
          Action a;
          a.type = ActionType::kAddEcho;
          a.range = rg.id;
          a.pod = st.pods[t].name;
          a.reason = "range load " + Pct(L / Cap(h.pod)) + " of " + name(h.pod) +
                     " exceeds one pod's target and is " + Pct(*rg.readFraction) + " reads";
          Effect(a, {h.pod, t}, before);
          rg.echoes.push_back(st.pods[t].name);
          Commit(std::move(a));
        } else if (rg.end > rg.start) {
          Action a;
          a.type = ActionType::kSplit;
          a.range = rg.id;
          uint32_t mid = rg.start + (rg.end - rg.start) / 2;
          a.splitAt = mid + 1;
          uint32_t newId = 0;
          for (const auto& x : st.ranges) newId = std::max(newId, x.id + 1);
          a.other = newId;
          a.reason = "range load " + Pct(L / Cap(h.pod)) + " alone exceeds one pod's target " +
                     Pct(pol.targetUtilization) + "; halves can be moved next";
          a.effect.push_back({name(h.pod), podLoad[h.pod] / Cap(h.pod), podLoad[h.pod] / Cap(h.pod)});
          Range upper = rg;
          upper.id = newId;
          upper.start = mid + 1;
          if (rg.sizeBytes) {
            upper.sizeBytes = *rg.sizeBytes / 2;
            rg.sizeBytes = *rg.sizeBytes / 2;
          }
          rg.end = mid;
          rangeLoad[r] = L / 2;
          rangeObs[r] /= 2;
          rangeLoad.push_back(L / 2);
          rangeObs.push_back(rangeObs[r]);
          rangeIdx[newId] = st.ranges.size();
          ownedIdx[h.pod].push_back(st.ranges.size());
          st.ranges.push_back(upper);
          splitNew.insert(newId);
          Commit(std::move(a));
        } else {
          plan.blocked.push_back({subject, "single-key range too hot for one pod and not read-heavy"});
        }
      }
    }
    // Moves: per due pod, the fewest ranges covering its excess, preferring
    // high migration score (P(hot) x benefit / cost) within that count.
    for (auto& h : hot) {
      if (!h.due) continue;
      double excess = podLoad[h.pod] - pol.targetUtilization * Cap(h.pod);
      if (excess <= 0) continue;
      struct Cand {
        std::size_t r;
        double share, score;
      };
      std::vector<Cand> cands;
      for (std::size_t r : OwnedRanges(h.pod)) {
        if (!Movable(r) || Giant(r) || splitNew.count(st.ranges[r].id)) continue;
        double share = OwnerShare(r, st.ranges[r].echoes.size());
        double cost = st.ranges[r].sizeBytes ? std::max(*st.ranges[r].sizeBytes, 1.0) / meanSize : 1.0;
        double benefit = std::min(share, excess) / Cap(h.pod);
        cands.push_back({r, share, podProb[h.pod] * benefit / cost});
      }
      std::vector<double> shares;
      for (const auto& c : cands) shares.push_back(c.share);
      std::size_t kmin = MinCount(shares, excess);
      double totalMovable = std::accumulate(shares.begin(), shares.end(), 0.0);
      if (totalMovable < excess - 1e-9) {
        plan.blocked.push_back({name(h.pod), "even moving every movable range leaves it above targetUtilization"});
      }
      plan.movedLowerBound += kmin;
      std::sort(cands.begin(), cands.end(), [&](const Cand& a, const Cand& b) {
        if (a.score != b.score) return a.score > b.score;
        return st.ranges[a.r].id < st.ranges[b.r].id;
      });
      std::vector<bool> used(cands.size(), false);
      std::vector<std::size_t> chosen;
      double left = excess;
      std::size_t budgetK = kmin;
      while (left > 1e-9 && budgetK > 0) {
        long pick = -1;
        for (std::size_t i = 0; i < cands.size() && pick < 0; ++i) {
          if (used[i]) continue;
          double rest = left - cands[i].share;
          if (rest <= 1e-9) {
            pick = static_cast<long>(i);
            break;
          }
          if (budgetK == 1) continue;
          // Can the remaining budget still cover the rest, taking the largest?
          std::vector<double> others;
          for (std::size_t j = 0; j < cands.size(); ++j) {
            if (!used[j] && j != i) others.push_back(cands[j].share);
          }
          std::size_t take = std::min(budgetK - 1, others.size());
          std::partial_sort(others.begin(), others.begin() + static_cast<long>(take), others.end(),
                            std::greater<double>());
          double cover = std::accumulate(others.begin(), others.begin() + static_cast<long>(take), 0.0);
          if (cover >= rest - 1e-9) pick = static_cast<long>(i);
        }
        if (pick < 0) {
          // Cannot cover (not enough movable load): take the largest remaining.
          for (std::size_t i = 0; i < cands.size(); ++i) {
            if (!used[i] && (pick < 0 || cands[i].share > cands[static_cast<std::size_t>(pick)].share)) {
              pick = static_cast<long>(i);
            }
          }
          if (pick < 0) break;
        }
        used[static_cast<std::size_t>(pick)] = true;
        chosen.push_back(static_cast<std::size_t>(pick));
        left -= cands[static_cast<std::size_t>(pick)].share;
        --budgetK;
      }
      bool failed = false;
      std::sort(chosen.begin(), chosen.end(), [&](std::size_t a, std::size_t b) {
        if (cands[a].share != cands[b].share) return cands[a].share > cands[b].share;
        return st.ranges[cands[a].r].id < st.ranges[cands[b].r].id;
      });
      for (std::size_t i : chosen) {
        std::string why = name(h.pod) + " predicted " + Pct(podLoadBefore[h.pod] / Cap(h.pod)) +
                          " (P(exceed " + Pct(pol.maxUtilization) + ")=" + Num(podProb[h.pod]) +
                          ", crossing in " + Secs(h.ttc) + "); moving " +
                          Pct(cands[i].share / Cap(h.pod)) + " toward target " +
                          Pct(pol.targetUtilization);
        if (!MoveRange(cands[i].r, why, cands[i].score, true)) failed = true;
      }
      // A chosen range found no receiver: cover what is left with smaller
      // ranges that do fit somewhere (more moves, but the pod gets relief).
      if (failed && movesEmitted < budget) {
        std::vector<std::size_t> rest;
        for (std::size_t i = 0; i < cands.size(); ++i) {
          if (!used[i]) rest.push_back(i);
        }
        std::sort(rest.begin(), rest.end(), [&](std::size_t a, std::size_t b) {
          if (cands[a].share != cands[b].share) return cands[a].share > cands[b].share;
          return st.ranges[cands[a].r].id < st.ranges[cands[b].r].id;
        });
        for (std::size_t i : rest) {
          if (podLoad[h.pod] <= pol.targetUtilization * Cap(h.pod) + 1e-9 || movesEmitted >= budget) break;
          const auto& rg = st.ranges[cands[i].r];
          if (PickTarget(cands[i].share, h.pod, &rg) < 0) continue;
          MoveRange(cands[i].r, name(h.pod) + " still above target after a blocked move; moving a smaller range",
                    cands[i].score, false);
        }
      }
    }
    for (const auto& h : hot) anyHot = anyHot || h.due;
    anyWatching = !hot.empty();
  }

  std::string name(std::size_t p) const { return st.pods[p].name; }

  void RemoveEchoes() {
    for (std::size_t r = 0; r < st.ranges.size(); ++r) {
      auto& rg = st.ranges[r];
      if (rg.echoes.empty() || RangeCooling(rg.id) || rg.state != RangeState::kStable) continue;
      std::size_t o = podIdx.at(rg.owner);
      if (podHot[o]) continue;
      std::size_t e = rg.echoes.size();
      double gain = OwnerShare(r, e - 1) - OwnerShare(r, e);
      if (rangeLoad[r] > 0.5 * pol.targetUtilization * Cap(o)) continue;
      if ((podLoad[o] + gain) / Cap(o) > pol.targetUtilization) continue;
      std::size_t ep = podIdx.at(rg.echoes.back());
      std::vector<double> before = podLoad;
      podLoad[o] += gain;
      podLoad[ep] -= EchoShare(r, e);
      for (std::size_t i = 0; i + 1 < e; ++i) podLoad[podIdx.at(rg.echoes[i])] += EchoShare(r, e - 1) - EchoShare(r, e);
      Action a;
      a.type = ActionType::kRemoveEcho;
      a.range = rg.id;
      a.pod = rg.echoes.back();
      a.reason = "range load " + Pct(rangeLoad[r] / Cap(o)) + " is below half of targetUtilization; owner " +
                 rg.owner + " can serve its reads";
      Effect(a, {o, ep}, before);
      rg.echoes.pop_back();
      Commit(std::move(a));
    }
  }

  void Merges() {
    int configured = st.configuredRanges > 0 ? st.configuredRanges : static_cast<int>(in.state.ranges.size());
    int allowed = static_cast<int>(st.ranges.size()) - configured;
    if (allowed <= 0) return;
    double mean = std::accumulate(rangeLoad.begin(), rangeLoad.end(), 0.0) /
                  static_cast<double>(std::max<std::size_t>(1, rangeLoad.size()));
    std::vector<std::size_t> order(st.ranges.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return st.ranges[a].start < st.ranges[b].start; });
    std::set<std::size_t> merged;
    for (std::size_t i = 0; i + 1 < order.size() && allowed > 0; ++i) {
      std::size_t a = order[i], b = order[i + 1];
      const auto& ra = st.ranges[a];
      const auto& rb = st.ranges[b];
      if (merged.count(a) || ra.end == UINT32_MAX || ra.end + 1 != rb.start || ra.owner != rb.owner) continue;
      if (ra.state != RangeState::kStable || rb.state != RangeState::kStable || !ra.echoes.empty() ||
          !rb.echoes.empty() || RangeCooling(ra.id) || RangeCooling(rb.id) || splitNew.count(ra.id) ||
          splitNew.count(rb.id) || podHot[podIdx.at(ra.owner)]) {
        continue;
      }
      if (rangeLoad[a] + rangeLoad[b] > mean) continue;
      std::size_t o = podIdx.at(ra.owner);
      Action act;
      act.type = ActionType::kMerge;
      act.range = ra.id;
      act.other = rb.id;
      act.reason = "adjacent cold ranges on " + ra.owner + " (together " + Pct((rangeLoad[a] + rangeLoad[b]) / Cap(o)) +
                   ", below the mean range load); " + std::to_string(st.ranges.size()) + " ranges > configured " +
                   std::to_string(configured);
      act.effect.push_back({ra.owner, podLoad[o] / Cap(o), podLoad[o] / Cap(o)});
      Commit(std::move(act));
      merged.insert(a);
      merged.insert(b);
      --allowed;
    }
  }

  void ScaleIn() {
    double obs = 0, cap = 0, pred = 0;
    std::vector<PodLoad> cands;
    int active = 0, warm = 0;
    for (std::size_t p = 0; p < st.pods.size(); ++p) {
      if (!Active(p)) {
        ++warm;
        continue;
      }
      ++active;
      obs += podObs[p];
      pred += podLoad[p];
      cap += Cap(p);
      if (!PodCooling(st.pods[p].name)) cands.push_back({st.pods[p].name, podObs[p], OwnedRanges(p).size()});
    }
    if (active <= st.minReplicas || cap <= 0) return;
    double meanObs = obs / cap;
    if (meanObs >= pol.scaleInUtilization) return;
    if (!in.history.lowLoadSince) {
      plan.notes.push_back({"plan", "observed utilization " + Pct(meanObs) + " is below scaleInUtilization; history.lowLoadSince not set yet"});
      return;
    }
    int64_t lowFor = in.now - *in.history.lowLoadSince;
    if (lowFor < pol.scaleInStabilizationSeconds) {
      plan.notes.push_back({"plan", "observed utilization " + Pct(meanObs) + " low for " + Secs(static_cast<double>(lowFor)) +
                                        " of the " + Secs(static_cast<double>(pol.scaleInStabilizationSeconds)) + " scaleInStabilization"});
      return;
    }
    auto victims = PickScaleInVictims(cands, 1);
    if (victims.empty()) {
      plan.blocked.push_back({"plan", "scale-in: every active pod is in cooldown"});
      return;
    }
    std::size_t v = podIdx.at(victims[0]);
    if (cap - Cap(v) <= 0) return;  // never scale in to zero capacity
    if (pred / (cap - Cap(v)) > pol.targetUtilization) {
      plan.notes.push_back({"plan", "observed load is low but the forecast for the remaining pods exceeds targetUtilization; not scaling in"});
      return;
    }
    for (std::size_t p = 0; p < st.pods.size(); ++p) {
      auto f = in.forecasts.pods.find(st.pods[p].name);
      if (Active(p) && f != in.forecasts.pods.end() && f->second.trusted && f->second.probExceed >= pol.confidence) return;
    }
    // Echoes hosted on the victim go first.
    for (auto& rg : st.ranges) {
      auto it = std::find(rg.echoes.begin(), rg.echoes.end(), victims[0]);
      if (it == rg.echoes.end()) continue;
      std::size_t r = rangeIdx.at(rg.id);
      std::size_t e = rg.echoes.size();
      std::vector<double> before = podLoad;
      podLoad[v] -= EchoShare(r, e);
      std::size_t o = podIdx.at(rg.owner);
      podLoad[o] += OwnerShare(r, e - 1) - OwnerShare(r, e);
      for (const auto& other : rg.echoes) {
        if (other != victims[0]) podLoad[podIdx.at(other)] += EchoShare(r, e - 1) - EchoShare(r, e);
      }
      Action a;
      a.type = ActionType::kRemoveEcho;
      a.range = rg.id;
      a.pod = victims[0];
      a.reason = "drain " + victims[0] + " for scale-in";
      Effect(a, {o, v}, before);
      rg.echoes.erase(it);
      Commit(std::move(a));
    }
    std::vector<std::size_t> owned = OwnedRanges(v);
    std::sort(owned.begin(), owned.end(), [&](std::size_t a, std::size_t b) {
      double sa = OwnerShare(a, st.ranges[a].echoes.size()), sb = OwnerShare(b, st.ranges[b].echoes.size());
      return sa != sb ? sa > sb : st.ranges[a].id < st.ranges[b].id;
    });
    podHot[v] = true;  // never a receiver while draining
    std::size_t left = owned.size();
    for (std::size_t r : owned) {
      if (!Movable(r)) {
        plan.blocked.push_back({"range/" + std::to_string(st.ranges[r].id), "drain of " + victims[0] + " waits: range in cooldown or migrating"});
        continue;
      }
      std::string why = "drain " + victims[0] + " for scale-in: observed utilization " + Pct(meanObs) + " below " +
                        Pct(pol.scaleInUtilization) + " for " + Secs(static_cast<double>(lowFor));
      if (MoveRange(r, why, 0, false)) --left;
    }
    if (left > 0) {
      plan.blocked.push_back({victims[0], "scale-in waits for drain: " + std::to_string(left) + " ranges left"});
      return;
    }
    Action a;
    a.type = warm < st.warmPoolSize ? ActionType::kDemote : ActionType::kScaleIn;
    a.pod = victims[0];
    a.reason = "observed utilization " + Pct(meanObs) + " below scaleInUtilization " + Pct(pol.scaleInUtilization) +
               " for " + Secs(static_cast<double>(lowFor)) + " (>= " +
               Secs(static_cast<double>(pol.scaleInStabilizationSeconds)) + ")" +
               (a.type == ActionType::kDemote ? "; back to the warm pool" : "; warm pool full");
    a.effect.push_back({victims[0], podLoadBefore[v] / Cap(v), 0});
    if (a.type == ActionType::kDemote) st.pods[v].role = PodRole::kWarm;
    Commit(std::move(a));
  }

  bool Allowed(std::string& why) {
    bool inWindow = true;
    if (pol.inWindow) {
      inWindow = *pol.inWindow;
    } else if (!pol.windows.empty()) {
      inWindow = false;
      for (const auto& w : pol.windows) {
        auto c = Cron::Parse(w.cron);
        if (c && c->ActiveAt(in.now, w.durationSeconds)) inWindow = true;
      }
    }
    if (!inWindow) {
      why = "outside every allowed window";
      return false;
    }
    if (pol.inBlackout) {
      if (*pol.inBlackout) {
        why = "inside a blackout";
        return false;
      }
    } else {
      for (std::size_t i = 0; i < pol.blackouts.size(); ++i) {
        auto c = Cron::Parse(pol.blackouts[i].cron);
        if (c && c->ActiveAt(in.now, pol.blackouts[i].durationSeconds)) {
          why = "inside blackout " + std::to_string(i) + " (\"" + pol.blackouts[i].cron + "\")";
          return false;
        }
      }
    }
    return true;
  }

  std::set<uint32_t> splitNew;
  bool anyHot = false;
  bool anyWatching = false;

  Result<Plan> Run() {
    Index();
    ComputeLoads();
    ComputeBudget();
    std::string why;
    bool allowed = Allowed(why);
    Relieve();
    RemoveEchoes();
    Merges();
    if (!anyWatching && plan.actions.empty()) ScaleIn();
    for (const auto& a : plan.actions) plan.moves += a.type == ActionType::kMove ? 1 : 0;
    // Table.
    double meanBefore = 0;
    int n = 0;
    for (std::size_t p = 0; p < in.state.pods.size(); ++p) {
      if (in.state.pods[p].role == PodRole::kActive) {
        meanBefore += podLoadBefore[p] / Cap(p);
        ++n;
      }
    }
    meanBefore = n ? meanBefore / n : 0;
    if (!allowed) {
      for (const auto& a : plan.actions) {
        std::string subject = a.range ? "range/" + std::to_string(*a.range) : a.pod;
        plan.blocked.push_back({subject, std::string(ActionTypeName(a.type)) + " not done: " + why + " (" + a.reason + ")"});
      }
      plan.actions.clear();
      plan.moves = 0;
      podLoad = podLoadBefore;
      st = in.state;
    }
    std::vector<std::size_t> countBefore(in.state.pods.size(), 0), countAfter(in.state.pods.size(), 0);
    for (const auto& r : in.state.ranges) ++countBefore[podIdx.at(r.owner)];
    for (const auto& r : st.ranges) ++countAfter[podIdx.at(r.owner)];
    for (std::size_t p = 0; p < in.state.pods.size(); ++p) {
      const auto& pod = in.state.pods[p];
      PodRow row;
      row.pod = pod.name;
      row.role = st.pods[p].role;
      row.ready = pod.ready;
      row.capacity = pod.capacity;
      row.observed = podObs[p] / Cap(p);
      row.before = podLoadBefore[p] / Cap(p);
      row.after = std::max(0.0, podLoad[p]) / Cap(p);
      row.imbalance = pod.role == PodRole::kActive ? row.before - meanBefore : 0;
      row.rangesBefore = countBefore[p];
      row.rangesAfter = countAfter[p];
      plan.pods.push_back(row);
    }
    // Stable id over the actions (and the ShardSet name).
    std::string canon = in.state.name;
    for (const auto& a : plan.actions) {
      canon += "|" + std::string(ActionTypeName(a.type)) + ":" + (a.range ? std::to_string(*a.range) : "") + ":" +
               (a.other ? std::to_string(*a.other) : "") + ":" + a.pod + ":" + a.from + ":" + a.to + ":" +
               (a.splitAt ? std::to_string(*a.splitAt) : "");
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "plan-%016llx", static_cast<unsigned long long>(Fnv1a64(canon)));
    plan.id = buf;
    return std::move(plan);
  }
};

}  // namespace

Result<Plan> MakePlan(const PlanInput& in) {
  auto ok = Validate(in);
  if (!ok) return unexpected(ok.error());
  for (std::size_t i = 0; i < in.policy.windows.size(); ++i) {
    auto c = Cron::Parse(in.policy.windows[i].cron);
    if (!c) return unexpected(Error{"policy.windows[" + std::to_string(i) + "].schedule: " + c.error().message});
  }
  for (std::size_t i = 0; i < in.policy.blackouts.size(); ++i) {
    auto c = Cron::Parse(in.policy.blackouts[i].cron);
    if (!c) return unexpected(Error{"policy.blackouts[" + std::to_string(i) + "].schedule: " + c.error().message});
  }
  Planner p(in);
  return p.Run();
}

Result<std::size_t> MovementLowerBound(const PlanInput& in) {
  auto plan = MakePlan(in);
  if (!plan) return unexpected(plan.error());
  return plan->movedLowerBound;
}

Result<ShardSetState> ApplyPlan(const ShardSetState& state, const Plan& plan) {
  ShardSetState s = state;
  auto podOf = [&](const std::string& n) -> Pod* {
    for (auto& p : s.pods) {
      if (p.name == n) return &p;
    }
    return nullptr;
  };
  auto rangeOf = [&](uint32_t id) -> Range* {
    for (auto& r : s.ranges) {
      if (r.id == id) return &r;
    }
    return nullptr;
  };
  for (std::size_t i = 0; i < plan.actions.size(); ++i) {
    const auto& a = plan.actions[i];
    std::string f = "actions[" + std::to_string(i) + "]";
    Range* r = a.range ? rangeOf(*a.range) : nullptr;
    if (a.range && !r) return unexpected(Error{f + ".range: unknown range " + std::to_string(*a.range)});
    switch (a.type) {
      case ActionType::kPromote:
      case ActionType::kDemote: {
        Pod* p = podOf(a.pod);
        if (!p) return unexpected(Error{f + ".pod: unknown pod " + a.pod});
        p->role = a.type == ActionType::kPromote ? PodRole::kActive : PodRole::kWarm;
        break;
      }
      case ActionType::kScaleIn: {
        auto it = std::find_if(s.pods.begin(), s.pods.end(), [&](const Pod& p) { return p.name == a.pod; });
        if (it == s.pods.end()) return unexpected(Error{f + ".pod: unknown pod " + a.pod});
        s.pods.erase(it);
        break;
      }
      case ActionType::kMove:
        if (!r || r->owner != a.from) return unexpected(Error{f + ".from: range not owned by " + a.from});
        if (!podOf(a.to)) return unexpected(Error{f + ".to: unknown pod " + a.to});
        r->owner = a.to;
        break;
      case ActionType::kAddEcho:
        if (!r || !podOf(a.pod)) return unexpected(Error{f + ".pod: unknown pod " + a.pod});
        r->echoes.push_back(a.pod);
        break;
      case ActionType::kRemoveEcho: {
        if (!r) return unexpected(Error{f + ".range: missing"});
        auto it = std::find(r->echoes.begin(), r->echoes.end(), a.pod);
        if (it == r->echoes.end()) return unexpected(Error{f + ".pod: not an echo of the range"});
        r->echoes.erase(it);
        break;
      }
      case ActionType::kSplit: {
        if (!r || !a.splitAt || !a.other || *a.splitAt <= r->start || *a.splitAt > r->end) {
          return unexpected(Error{f + ".splitAt: outside the range"});
        }
        if (rangeOf(*a.other)) return unexpected(Error{f + ".other: range id already used"});
        Range upper = *r;
        upper.id = *a.other;
        upper.start = *a.splitAt;
        r->end = *a.splitAt - 1;
        if (r->sizeBytes) {
          upper.sizeBytes = *r->sizeBytes / 2;
          r->sizeBytes = *r->sizeBytes / 2;
        }
        s.ranges.push_back(upper);
        break;
      }
      case ActionType::kMerge: {
        Range* b = a.other ? rangeOf(*a.other) : nullptr;
        if (!r || !b || r->end == UINT32_MAX || r->end + 1 != b->start || r->owner != b->owner) {
          return unexpected(Error{f + ".other: not an adjacent range on the same owner"});
        }
        r->end = b->end;
        if (r->sizeBytes && b->sizeBytes) r->sizeBytes = *r->sizeBytes + *b->sizeBytes;
        uint32_t gone = b->id;
        s.ranges.erase(std::remove_if(s.ranges.begin(), s.ranges.end(), [&](const Range& x) { return x.id == gone; }),
                       s.ranges.end());
        break;
      }
    }
  }
  return s;
}

}  // namespace shardcast::planner
