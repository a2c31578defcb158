// Desired(): this round's ownership requests and its one step kind,
// computed from an observation (pure). The controller never changes a range
// owner: after the first document, every ownership change is a request the
// executor (the MigrationPolicy controller) carries out.
#include <algorithm>
#include <cmath>

#include "controllers/api/resources.h"
#include "controllers/planner/placement.h"
#include "controllers/shardset/shardset.h"

namespace shardcast::shardset {
namespace {

bool ByOrdinal(const ObservedPod& a, const ObservedPod& b) {
  return a.ordinal != b.ordinal ? a.ordinal < b.ordinal : a.name < b.name;
}

bool IsActive(const ObservedPod& p) { return p.role == api::kRoleActive; }

// The set's pods sorted and sorted out against the published document.
struct Members {
  std::vector<ObservedPod> pods;            // every pod of the set, by ordinal
  std::vector<ObservedPod> active, warm;    // live ones, by ordinal
  std::set<std::string> referenced;         // named anywhere in the document
  std::map<std::string, size_t> ranges_of;  // owner -> ranges held
  // Owners without a live pod: their data is in their claims (the pod is
  // re-created under its name), or it is gone (no copy left).
  std::set<std::string> returning, gone;
  size_t members() const { return active.size() + returning.size(); }
};

bool HasClaims(const ShardSetSpec& set, const Observation& obs, const std::string& pod) {
  std::vector<std::string> claims = ClaimNames(set, pod);
  if (claims.empty()) return false;
  return std::all_of(claims.begin(), claims.end(),
                     [&](const std::string& c) { return obs.claims.count(c) > 0; });
}

Members Classify(const ShardSetSpec& set, const Observation& obs) {
  Members m;
  m.pods = obs.pods;
  std::sort(m.pods.begin(), m.pods.end(), ByOrdinal);
  std::set<std::string> live;
  for (const auto& p : m.pods) {
    if (!p.live()) continue;
    (IsActive(p) ? m.active : m.warm).push_back(p);
    live.insert(p.name);
  }
  if (!obs.routing) return m;
  m.referenced = obs.routing->ReferencedPods();
  for (const auto& r : obs.routing->ranges) ++m.ranges_of[r.owner];
  for (const auto& [owner, n] : m.ranges_of) {
    if (live.count(owner)) continue;  // not Ready is not gone: its ranges stay
    (HasClaims(set, obs, owner) ? m.returning : m.gone).insert(owner);
  }
  return m;
}

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// Scale-in victims among the live active pods: those the governing
// policy's ScaleIn and Demote actions name first (the planner drained
// them), then not Ready first, then fewest ranges, then highest ordinal
// (planner::PickScaleInVictims).
std::vector<std::string> PickVictims(const ShardSetSpec& set, const Observation& obs,
                                     const Members& m) {
  const size_t replicas = static_cast<size_t>(std::max(set.replicas, 0));
  if (replicas == 0 || m.members() <= replicas) return {};
  const size_t count = std::min(m.members() - replicas, m.active.size());
  std::vector<std::string> out;
  for (const auto& name : obs.scale_in_first) {
    if (out.size() == count) break;
    for (const auto& p : m.active) {
      if (p.name == name && !Contains(out, name)) out.push_back(name);
    }
  }
  std::vector<planner::PodLoad> loads;
  for (const auto& p : m.active) {
    if (Contains(out, p.name)) continue;
    auto it = m.ranges_of.find(p.name);
    loads.push_back({p.name, p.ready ? 0.0 : -1.0, it == m.ranges_of.end() ? 0 : it->second});
  }
  for (auto& v : planner::PickScaleInVictims(loads, count - out.size())) out.push_back(v);
  return out;
}

// Shedding: a staying owner beyond ceil(loadFactor * ranges / staying pods)
// lists its excess, the stable ranges with the highest ids (a range being
// migrated off it is already leaving).
void AddShedding(const ShardSetSpec& set, const RoutingDocument& doc,
                 const std::set<std::string>& staying, std::vector<OwnershipRequest>& out) {
  if (staying.empty()) return;
  const double per_pod = set.load_factor * static_cast<double>(doc.ranges.size()) /
                         static_cast<double>(staying.size());
  const auto bound = static_cast<size_t>(std::ceil(per_pod - 1e-9));
  std::map<std::string, size_t> held;
  std::map<std::string, std::vector<uint32_t>> movable;
  for (const auto& r : doc.ranges) {
    if (!staying.count(r.owner)) continue;
    ++held[r.owner];
    if (r.state == "stable") movable[r.owner].push_back(r.id);
  }
  for (auto& [owner, ids] : movable) {
    if (held[owner] <= bound) continue;
    std::sort(ids.begin(), ids.end());
    size_t excess = std::min(held[owner] - bound, ids.size());
    for (size_t i = ids.size() - excess; i < ids.size(); ++i) {
      out.push_back({ids[i], owner, kReasonShedding, ""});
    }
  }
}

// The ranges wanted off their owners (contract C1), sorted by range.
std::vector<OwnershipRequest> PlanRequests(const ShardSetSpec& set, const Observation& obs,
                                           const Members& m,
                                           const std::vector<std::string>& victims) {
  std::vector<OwnershipRequest> out;
  if (!obs.routing || obs.routing_invalid) return out;
  std::set<std::string> staying(m.returning.begin(), m.returning.end());
  for (const auto& p : m.active) {
    if (!Contains(victims, p.name)) staying.insert(p.name);
  }
  for (const auto& r : obs.routing->ranges) {
    if (m.gone.count(r.owner)) {
      out.push_back({r.id, r.owner, kReasonOwnerGone, ""});
    } else if (Contains(victims, r.owner)) {
      out.push_back({r.id, r.owner, kReasonScaleIn, ""});
    }
  }
  AddShedding(set, *obs.routing, staying, out);
  std::sort(out.begin(), out.end(),
            [](const OwnershipRequest& a, const OwnershipRequest& b) { return a.range < b.range; });
  return out;
}

// 1. A missing active pod is replaced by a Ready warm one (an owner coming
// back from its claims is not missing): first the pods the governing
// policy's Promote actions name (the planner's choice, e.g. the pod it
// pre-warmed), then by ordinal. The promoted pod owns nothing until the
// executor moves ranges to it.
bool PlanPromotion(const ShardSetSpec& set, const Observation& obs, const Members& m, Desired& d) {
  const size_t replicas = static_cast<size_t>(std::max(set.replicas, 0));
  if (m.members() >= replicas) return false;
  const size_t deficit = replicas - m.members();
  auto take = [&](const ObservedPod& w) {
    if (d.promote.size() < deficit && w.ready && !Contains(d.promote, w.name))
      d.promote.push_back(w.name);
  };
  for (const auto& name : obs.promote_first) {
    for (const auto& w : m.warm) {
      if (w.name == name) take(w);
    }
  }
  for (const auto& w : m.warm) take(w);
  if (d.promote.empty()) return false;
  d.kind = StepKind::kPromote;
  d.summary = "promoting " + std::to_string(d.promote.size()) + " warm pod(s)";
  return true;
}

// 2. The first routing document, over the Ready active pods, once every
// active pod is Ready and there are at least spec.replicas of them; only
// when no document was ever published. The pod cache may not show every
// pod just created yet: without the replicas bound a document published
// over the few it shows would give them every range for good (the
// ShardSet controller never rewrites it; only the executor moves ranges).
bool PlanFirstDocument(const ShardSetSpec& set, const Observation& obs, const Members& m,
                       Desired& d) {
  if (obs.routing || obs.routing_invalid) return false;
  std::vector<std::string> routable = RoutablePods(set, obs, {});
  const size_t want = std::max(m.active.size(), static_cast<size_t>(std::max(set.replicas, 1)));
  if (routable.size() < want) return false;
  std::vector<uint32_t> ids;
  for (int i = 0; i < set.ranges; ++i) ids.push_back(static_cast<uint32_t>(i));
  auto placed = planner::Assign(ids, routable, set.virtual_nodes, set.load_factor, {});
  if (!placed) {
    d.problem = "placement: " + placed.error().message;
    return false;
  }
  d.kind = StepKind::kCreateRouting;
  d.assignment = placed->owners;
  d.summary = "publishing the first routing document";
  return true;
}

// 3. Deletions: never while the document is invalid, never a pod it names
// (except a failed owner that comes back from its claims under its name).
bool PlanDeletions(const ShardSetSpec& set, const Observation& obs, const Members& m, Desired& d) {
  if (obs.routing_invalid) return false;
  for (const auto& p : m.pods) {
    if (p.terminating || !p.failed()) continue;
    if (!m.referenced.count(p.name)) {
      d.remove.push_back({p.name, p.uid, kDeleteFailed});
    } else if (m.returning.count(p.name)) {
      d.remove.push_back({p.name, p.uid, kDeleteRestart});
    }
  }
  // A pod whose claims go with it waits while an unfinished action names
  // it: a move off it may still revert to it.
  auto held = [&](const ObservedPod& p) {
    auto it = obs.held.find(p.name);
    if (it == obs.held.end()) return false;
    d.held[p.name] = it->second;
    return true;
  };
  for (const auto& p : m.active) {
    if (Contains(d.victims, p.name) && !m.referenced.count(p.name) && !held(p)) {
      d.remove.push_back({p.name, p.uid, kDeleteScaleIn});
    }
  }
  if (m.warm.size() > static_cast<size_t>(set.warm_pool)) {
    std::vector<ObservedPod> order = m.warm;
    std::stable_sort(order.begin(), order.end(), [](const ObservedPod& a, const ObservedPod& b) {
      if (a.ready != b.ready) return !a.ready;  // not-ready first
      return a.ordinal > b.ordinal;             // then highest ordinal
    });
    size_t extra = m.warm.size() - static_cast<size_t>(set.warm_pool);
    for (const auto& p : order) {
      if (extra == 0) break;
      if (m.referenced.count(p.name) || held(p)) continue;
      d.remove.push_back({p.name, p.uid, kDeleteExcessWarm});
      --extra;
    }
  }
  if (d.remove.empty()) return false;
  d.kind = StepKind::kDeletePods;
  d.summary = "deleting " + std::to_string(d.remove.size()) + " pod(s)";
  return true;
}

// 4. Creations: owners coming back under their own name first; then
// cold-starts (only when no warm pod is Ready: step 1 would have promoted
// it) and the warm pool's refill, lowest free ordinal first. A name the
// document gives ranges to is never handed to a new, empty pod.
bool PlanCreations(const ShardSetSpec& set, const Observation& obs, const Members& m, Desired& d) {
  std::set<std::string> occupied = obs.occupied_names;
  for (const auto& p : m.pods) occupied.insert(p.name);
  for (const auto& name : m.returning) {
    long ordinal = planner::PodOrdinal(name);
    if (ordinal < 0 || PodName(set, ordinal) != name) continue;
    if (!occupied.count(name)) d.create.push_back({ordinal, api::kRoleActive});
  }
  for (const auto& [owner, n] : m.ranges_of) occupied.insert(owner);
  long next = 0;
  auto take = [&]() {
    while (occupied.count(PodName(set, next))) ++next;
    occupied.insert(PodName(set, next));
    return next;
  };
  for (size_t i = m.members(); i < static_cast<size_t>(std::max(set.replicas, 0)); ++i) {
    d.create.push_back({take(), api::kRoleActive});
  }
  for (size_t i = m.warm.size(); i < static_cast<size_t>(set.warm_pool); ++i) {
    d.create.push_back({take(), api::kRoleWarm});
  }
  if (d.create.empty()) return false;
  d.kind = StepKind::kCreatePods;
  d.summary = "creating " + std::to_string(d.create.size()) + " pod(s)";
  return true;
}

std::string HeldSummary(const std::map<std::string, std::string>& held) {
  std::string out;
  for (const auto& [pod, action] : held) {
    out += (out.empty() ? "" : "; ") + std::string("keeping pod ") + pod + " until action " +
           action + " is finished";
  }
  return out;
}

}  // namespace

std::vector<std::string> RoutablePods(const ShardSetSpec& /*set*/, const Observation& obs,
                                      const std::vector<std::string>& victims) {
  std::vector<ObservedPod> pods = obs.pods;
  std::sort(pods.begin(), pods.end(), ByOrdinal);
  std::vector<std::string> out;
  for (const auto& p : pods) {
    if (!p.live() || !IsActive(p) || !p.ready) continue;
    if (Contains(victims, p.name)) continue;
    out.push_back(p.name);
  }
  return out;
}

Desired ComputeDesired(const ShardSetSpec& set, const Observation& obs) {
  Desired d;
  const Members m = Classify(set, obs);
  for (const auto& p : m.pods) {
    if (p.live() && !p.ready) d.waiting = true;
  }
  if (obs.routing && !obs.routing_invalid && set.replicas <= 0) {
    d.problem =
        "spec.replicas: 0 active pods cannot serve the key ranges; the pods that own ranges "
        "are kept";
  }
  d.returning.assign(m.returning.begin(), m.returning.end());
  d.victims = PickVictims(set, obs, m);
  d.requests = PlanRequests(set, obs, m, d.victims);
  if (PlanPromotion(set, obs, m, d) || PlanFirstDocument(set, obs, m, d) ||
      PlanDeletions(set, obs, m, d) || PlanCreations(set, obs, m, d)) {
    return d;
  }
  if (!d.held.empty()) {
    d.waiting = true;  // also re-queued when the policy's actions change
    d.summary = HeldSummary(d.held);
  } else if (!obs.routing && !obs.routing_invalid && d.problem.empty()) {
    d.waiting = true;
    d.summary = "waiting for the active pods to become ready before the first routing document";
  } else if (d.waiting) {
    d.summary = "waiting for pods to become ready";
  }
  return d;
}

}  // namespace shardcast::shardset
