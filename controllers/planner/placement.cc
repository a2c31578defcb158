#include "controllers/planner/placement.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>
#include <unordered_map>

namespace shardcast::planner {

uint64_t Fnv1a64(std::string_view data) {
  uint64_t h = 14695981039346656037ULL;
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

namespace {

struct RingPoint {
  uint32_t pos;
  std::size_t pod;
};

// A range on the ring (ranges in ring order, ties by id, so the result does
// not depend on input order).
struct Slot {
  uint32_t id;
  uint32_t pos;
  std::size_t ring_idx;  // first ring point clockwise
  long owner = -1;
};

Result<bool> ValidateAssign(const std::vector<uint32_t>& ranges,
                            const std::vector<std::string>& active_pods, int virtual_nodes,
                            double load_factor,
                            std::unordered_map<std::string, std::size_t>& pod_index) {
  if (virtual_nodes < 1 || virtual_nodes > 1024) {
    return unexpected(
        Error{"hashing.virtualNodes: must be in 1..1024, got " + std::to_string(virtual_nodes)});
  }
  if (!(load_factor >= 1.0 && load_factor <= 4.0)) {
    return unexpected(
        Error{"hashing.loadFactor: must be in 1.0..4.0, got " + std::to_string(load_factor)});
  }
  for (std::size_t i = 0; i < active_pods.size(); ++i) {
    if (active_pods[i].empty()) return unexpected(Error{"activePods: empty pod name"});
    if (!pod_index.emplace(active_pods[i], i).second) {
      return unexpected(Error{"activePods: duplicate pod " + active_pods[i]});
    }
  }
  if (ranges.empty()) return true;
  if (active_pods.empty()) return unexpected(Error{"activePods: no active pod to place ranges on"});
  std::set<uint32_t> seen;
  for (uint32_t r : ranges) {
    if (!seen.insert(r).second) {
      return unexpected(Error{"ranges: duplicate range id " + std::to_string(r)});
    }
  }
  return true;
}

std::vector<RingPoint> BuildRing(const std::vector<std::string>& active_pods, int virtual_nodes) {
  std::vector<RingPoint> ring;
  ring.reserve(active_pods.size() * static_cast<std::size_t>(virtual_nodes));
  for (std::size_t p = 0; p < active_pods.size(); ++p) {
    for (int v = 0; v < virtual_nodes; ++v) {
      ring.push_back({RingHash(active_pods[p] + "#" + std::to_string(v)), p});
    }
  }
  std::sort(ring.begin(), ring.end(), [&](const RingPoint& a, const RingPoint& b) {
    return a.pos != b.pos ? a.pos < b.pos : active_pods[a.pod] < active_pods[b.pod];
  });
  return ring;
}

std::vector<Slot> PlaceOnRing(const std::vector<uint32_t>& ranges,
                              const std::vector<RingPoint>& ring) {
  std::vector<Slot> slots;
  slots.reserve(ranges.size());
  for (uint32_t r : ranges) {
    uint32_t pos = RingHash("range-" + std::to_string(r));
    auto it = std::lower_bound(ring.begin(), ring.end(), pos,
                               [](const RingPoint& a, uint32_t p) { return a.pos < p; });
    std::size_t idx = it == ring.end() ? 0 : static_cast<std::size_t>(it - ring.begin());
    slots.push_back({r, pos, idx});
  }
  std::sort(slots.begin(), slots.end(), [](const Slot& a, const Slot& b) {
    return a.pos != b.pos ? a.pos < b.pos : a.id < b.id;
  });
  return slots;
}

// Rules (1) and (2): previous owners that are still active keep their
// ranges; a joining pod (owned nothing before) takes its natural arc, up to
// the fair share.
void KeepAndJoin(std::vector<Slot>& slots, const std::vector<RingPoint>& ring,
                 const std::unordered_map<std::string, std::size_t>& pod_index,
                 const std::map<uint32_t, std::string>& previous_assignment,
                 std::vector<std::size_t>& count) {
  const std::size_t R = slots.size(), N = count.size();
  std::vector<bool> joiner(N, true);
  for (auto& s : slots) {
    auto prev = previous_assignment.find(s.id);
    if (prev == previous_assignment.end()) continue;
    auto pi = pod_index.find(prev->second);
    if (pi == pod_index.end()) continue;
    s.owner = static_cast<long>(pi->second);
    ++count[pi->second];
    joiner[pi->second] = false;
  }
  const std::size_t fair = (R + N - 1) / N;
  for (auto& s : slots) {
    std::size_t natural = ring[s.ring_idx].pod;
    if (!joiner[natural] || s.owner == static_cast<long>(natural) || count[natural] >= fair) {
      continue;
    }
    if (s.owner >= 0) --count[static_cast<std::size_t>(s.owner)];
    s.owner = static_cast<long>(natural);
    ++count[natural];
  }
}

// Rule (3): pods over the bound shed their last ranges in ring order to the
// least-loaded pods (the bound tightens when a pod joins).
void ShedOverBound(std::vector<Slot>& slots, const std::vector<std::string>& active_pods,
                   std::size_t bound, std::vector<std::size_t>& count) {
  std::vector<Slot*> shed;
  for (auto it = slots.rbegin(); it != slots.rend(); ++it) {
    if (it->owner < 0) continue;
    auto o = static_cast<std::size_t>(it->owner);
    if (count[o] > bound) {
      --count[o];
      it->owner = -1;
      shed.push_back(&*it);
    }
  }
  for (Slot* s : shed) {
    std::size_t best = 0;
    for (std::size_t p = 1; p < count.size(); ++p) {
      if (count[p] < count[best] || (count[p] == count[best] && active_pods[p] < active_pods[best]))
        best = p;
    }
    s->owner = static_cast<long>(best);
    ++count[best];
  }
}

// Rule (4): ranges of removed pods walk clockwise to the first pod under the bound.
Result<bool> PlaceOrphans(std::vector<Slot>& slots, const std::vector<RingPoint>& ring,
                          std::size_t bound, std::vector<std::size_t>& count) {
  for (auto& s : slots) {
    if (s.owner >= 0) continue;
    for (std::size_t step = 0; step < ring.size(); ++step) {
      std::size_t p = ring[(s.ring_idx + step) % ring.size()].pod;
      if (count[p] < bound) {
        s.owner = static_cast<long>(p);
        ++count[p];
        break;
      }
    }
    if (s.owner < 0) return unexpected(Error{"placement: no pod under the load bound"});
  }
  return true;
}

}  // namespace

Result<PlacementResult> Assign(const std::vector<uint32_t>& ranges,
                               const std::vector<std::string>& active_pods, int virtual_nodes,
                               double load_factor,
                               const std::map<uint32_t, std::string>& previous_assignment) {
  std::unordered_map<std::string, std::size_t> pod_index;
  auto ok = ValidateAssign(ranges, active_pods, virtual_nodes, load_factor, pod_index);
  if (!ok) return unexpected(ok.error());
  PlacementResult out;
  if (ranges.empty()) return out;
  const std::size_t R = ranges.size();
  const std::size_t N = active_pods.size();
  const auto bound = static_cast<std::size_t>(
      std::ceil(load_factor * static_cast<double>(R) / static_cast<double>(N) - 1e-9));
  out.bound = bound;
  std::vector<RingPoint> ring = BuildRing(active_pods, virtual_nodes);
  std::vector<Slot> slots = PlaceOnRing(ranges, ring);
  std::vector<std::size_t> count(N, 0);
  KeepAndJoin(slots, ring, pod_index, previous_assignment, count);
  ShedOverBound(slots, active_pods, bound, count);
  ok = PlaceOrphans(slots, ring, bound, count);
  if (!ok) return unexpected(ok.error());
  for (const auto& s : slots) {
    const std::string& pod = active_pods[static_cast<std::size_t>(s.owner)];
    auto prev = previous_assignment.find(s.id);
    if (prev == previous_assignment.end() || prev->second != pod) ++out.moved;
    out.owners.emplace(s.id, pod);
  }
  return out;
}

long PodOrdinal(std::string_view name) {
  auto dash = name.rfind('-');
  if (dash == std::string_view::npos || dash + 1 >= name.size()) return -1;
  long v = 0;
  auto first = name.data() + dash + 1;
  auto last = name.data() + name.size();
  auto [ptr, ec] = std::from_chars(first, last, v);
  if (ec != std::errc() || ptr != last) return -1;
  return v;
}

std::vector<std::string> PickScaleInVictims(std::vector<PodLoad> pods, std::size_t count) {
  double mean = 0;
  for (const auto& p : pods) mean += p.load;
  if (!pods.empty()) mean /= static_cast<double>(pods.size());
  auto light = [mean](const PodLoad& p) { return p.load <= mean + 1e-9 * std::abs(mean); };
  std::sort(pods.begin(), pods.end(), [&](const PodLoad& a, const PodLoad& b) {
    const bool la = light(a), lb = light(b);
    if (la != lb) return la;
    // Among the pods at or below the mean load, the cheapest drain; above
    // it, the least loaded.
    if (la && a.ranges != b.ranges) return a.ranges < b.ranges;
    if (a.load != b.load) return a.load < b.load;
    if (a.ranges != b.ranges) return a.ranges < b.ranges;
    long oa = PodOrdinal(a.name), ob = PodOrdinal(b.name);
    if (oa != ob) return oa > ob;
    return a.name > b.name;
  });
  std::vector<std::string> out;
  for (std::size_t i = 0; i < pods.size() && i < count; ++i) out.push_back(pods[i].name);
  return out;
}

Result<PlacementResult> Drain(const std::vector<uint32_t>& ranges,
                              const std::vector<std::string>& active_pods,
                              const std::vector<std::string>& victims, int virtual_nodes,
                              double load_factor,
                              const std::map<uint32_t, std::string>& previous_assignment) {
  std::set<std::string> gone(victims.begin(), victims.end());
  std::vector<std::string> remaining;
  for (const auto& p : active_pods) {
    if (!gone.count(p)) remaining.push_back(p);
  }
  if (remaining.empty()) return unexpected(Error{"victims: cannot drain every active pod"});
  return Assign(ranges, remaining, virtual_nodes, load_factor, previous_assignment);
}

}  // namespace shardcast::planner
