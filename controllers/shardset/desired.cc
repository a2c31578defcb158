// Desired(): one step kind per round, computed from an observation (pure).
#include <algorithm>

#include "controllers/api/resources.h"
#include "controllers/planner/placement.h"
#include "controllers/shardset/shardset.h"

namespace shardcast::shardset {
namespace {

bool ByOrdinal(const ObservedPod& a, const ObservedPod& b) {
  return a.ordinal != b.ordinal ? a.ordinal < b.ordinal : a.name < b.name;
}

bool IsActive(const ObservedPod& p) { return p.role == api::kRoleActive; }

}  // namespace

std::vector<std::string> RoutablePods(const ShardSetSpec& /*set*/, const Observation& obs,
                                      const std::vector<std::string>& victims) {
  std::vector<ObservedPod> pods = obs.pods;
  std::sort(pods.begin(), pods.end(), ByOrdinal);
  std::vector<std::string> out;
  for (const auto& p : pods) {
    if (!p.live() || !IsActive(p) || !p.ready) continue;
    if (std::find(victims.begin(), victims.end(), p.name) != victims.end()) continue;
    out.push_back(p.name);
  }
  return out;
}

Desired ComputeDesired(const ShardSetSpec& set, const Observation& obs) {
  Desired d;
  std::vector<ObservedPod> pods = obs.pods;
  std::sort(pods.begin(), pods.end(), ByOrdinal);
  std::vector<const ObservedPod*> active, warm;
  for (const auto& p : pods) {
    if (!p.live()) continue;
    (IsActive(p) ? active : warm).push_back(&p);
  }
  std::set<std::string> referenced;
  std::map<std::string, size_t> ranges_of;
  if (obs.routing) {
    referenced = obs.routing->referenced_pods();
    for (const auto& r : obs.routing->ranges) ++ranges_of[r.owner];
  }
  for (const auto& p : pods) {
    if (p.live() && !p.ready) d.waiting = true;
  }

  // 1. Promotion: a missing active pod is replaced by a Ready warm one.
  const size_t replicas = static_cast<size_t>(set.replicas);
  if (active.size() < replicas) {
    size_t deficit = replicas - active.size();
    for (const auto* w : warm) {
      if (d.promote.size() == deficit) break;
      if (w->ready) d.promote.push_back(w->name);
    }
    if (!d.promote.empty()) {
      d.kind = StepKind::kPromote;
      d.summary = "promoting " + std::to_string(d.promote.size()) + " warm pod(s)";
      return d;
    }
  }

  // 2. Scale-in victims: drained first, deleted once the published document
  // no longer names them.
  if (active.size() > replicas) {
    std::vector<planner::PodLoad> loads;
    for (const auto* p : active) {
      // Not-ready pods go first (they serve nothing useful).
      loads.push_back({p->name, p->ready ? 0.0 : -1.0, ranges_of[p->name]});
    }
    d.victims = planner::PickScaleInVictims(loads, active.size() - replicas);
  }

  // 3. Routing over the Ready active pods that stay.
  std::vector<std::string> routable = RoutablePods(set, obs, d.victims);
  std::map<std::string, std::string> ips;
  for (const auto& p : pods) {
    if (p.live()) ips[p.name] = p.ip;
  }
  size_t staying = active.size() - d.victims.size();
  bool initial_wait = !obs.routing && routable.size() < staying;
  if (routable.empty()) {
    if (obs.routing && !referenced.empty() && staying == 0 && replicas == 0) {
      d.problem =
          "spec.replicas: 0 active pods cannot serve the key ranges; the pods that own "
          "ranges are kept";
    }
  } else if (!initial_wait) {
    std::vector<uint32_t> ids;
    std::map<uint32_t, std::string> previous;
    if (obs.routing) {
      for (const auto& r : obs.routing->ranges) ids.push_back(r.id);
      previous = obs.routing->owners();
    } else {
      for (int i = 0; i < set.ranges; ++i) ids.push_back(static_cast<uint32_t>(i));
    }
    std::sort(ids.begin(), ids.end());
    // Hand-off: a pod that joins (owns nothing yet) while another one left
    // (owns ranges but is no longer routable) takes over exactly the
    // leaver's ranges, like a replacement; that is the minimal movement.
    // Unpaired joiners and leavers are left to Assign's rules.
    std::map<uint32_t, std::string> seeded = previous;
    {
      std::set<std::string> owners_now;
      for (const auto& [id, pod] : previous) owners_now.insert(pod);
      std::vector<std::string> joiners, leavers;
      for (const auto& r : routable) {
        if (!owners_now.count(r)) joiners.push_back(r);
      }
      std::set<std::string> routable_set(routable.begin(), routable.end());
      std::vector<std::pair<long, std::string>> left;
      for (const auto& o : owners_now) {
        if (!routable_set.count(o)) left.push_back({planner::PodOrdinal(o), o});
      }
      std::sort(left.begin(), left.end());
      for (size_t i = 0; i < left.size() && i < joiners.size(); ++i) {
        for (auto& [id, pod] : seeded) {
          if (pod == left[i].second) pod = joiners[i];
        }
      }
    }
    // Under a MigrationPolicy's replica request, pods that still own nothing
    // stay out of the ring placement: the policy moves hot ranges to them.
    std::vector<std::string> placing = routable;
    if (set.policy_fills_joiners && obs.routing) {
      std::set<std::string> owners;
      for (const auto& [id, pod] : seeded) owners.insert(pod);
      std::vector<std::string> kept;
      for (const auto& p : routable) {
        if (owners.count(p)) kept.push_back(p);
      }
      if (!kept.empty()) placing = std::move(kept);
    }
    auto placed = planner::Assign(ids, placing, set.virtual_nodes, set.load_factor, seeded);
    if (placed) {
      placed->moved = 0;
      for (const auto& [id, pod] : placed->owners) {
        auto it = previous.find(id);
        if (it == previous.end() || it->second != pod) ++placed->moved;
      }
    }
    if (!placed) {
      d.problem = "placement: " + placed.error().message;
    } else {
      int64_t old_epoch = obs.routing ? obs.routing->epoch : 0;
      Json same_epoch = BuildRoutingDocument(set, placed->owners, ips, old_epoch,
                                             obs.routing ? &*obs.routing : nullptr);
      if (!obs.routing || same_epoch != obs.routing->raw) {
        d.kind = StepKind::kWriteRouting;
        d.assignment = placed->owners;
        d.moved = obs.routing ? placed->moved : placed->owners.size();
        d.summary = obs.routing
                        ? "publishing routing: " + std::to_string(d.moved) + " range(s) move"
                        : "publishing the first routing document";
        return d;
      }
    }
  }

  // 4. Deletions of pods that own nothing.
  for (const auto& p : pods) {
    if (!p.terminating && p.failed() && !referenced.count(p.name)) {
      d.remove.push_back({p.name, p.uid, "Failed"});
    }
  }
  for (const auto& v : d.victims) {
    for (const auto* p : active) {
      if (p->name == v && !referenced.count(v)) d.remove.push_back({p->name, p->uid, "ScaleIn"});
    }
  }
  if (warm.size() > static_cast<size_t>(set.warm_pool)) {
    std::vector<const ObservedPod*> order = warm;
    std::stable_sort(order.begin(), order.end(), [](const ObservedPod* a, const ObservedPod* b) {
      if (a->ready != b->ready) return !a->ready;  // not-ready first
      return a->ordinal > b->ordinal;              // then highest ordinal
    });
    size_t extra = warm.size() - static_cast<size_t>(set.warm_pool);
    for (const auto* p : order) {
      if (extra == 0) break;
      if (referenced.count(p->name)) continue;
      d.remove.push_back({p->name, p->uid, "ExcessWarm"});
      --extra;
    }
  }
  if (!d.remove.empty()) {
    d.kind = StepKind::kDeletePods;
    d.summary = "deleting " + std::to_string(d.remove.size()) + " pod(s)";
    return d;
  }

  // 5. Creations: cold-start only when no warm pod is Ready (step 1 would
  // have promoted it); refill the warm pool.
  std::set<std::string> occupied = obs.occupied_names;
  for (const auto& p : pods) occupied.insert(p.name);
  long next = 0;
  auto take = [&]() {
    while (occupied.count(PodName(set, next))) ++next;
    occupied.insert(PodName(set, next));
    return next;
  };
  for (size_t i = active.size(); i < replicas; ++i) {
    d.create.push_back({take(), api::kRoleActive});
  }
  for (size_t i = warm.size(); i < static_cast<size_t>(set.warm_pool); ++i) {
    d.create.push_back({take(), api::kRoleWarm});
  }
  if (!d.create.empty()) {
    d.kind = StepKind::kCreatePods;
    d.summary = "creating " + std::to_string(d.create.size()) + " pod(s)";
    return d;
  }
  if (initial_wait) {
    d.waiting = true;
    d.summary = "waiting for the active pods to become ready before the first routing document";
  } else if (d.waiting) {
    d.summary = "waiting for pods to become ready";
  }
  return d;
}

}  // namespace shardcast::shardset
