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
  std::size_t ringIdx;  // first ring point clockwise
  long owner = -1;
};

Result<bool> ValidateAssign(const std::vector<uint32_t>& ranges,
                            const std::vector<std::string>& activePods, int virtualNodes,
                            double loadFactor,
                            std::unordered_map<std::string, std::size_t>& podIndex) {
  if (virtualNodes < 1 || virtualNodes > 1024) {
    return unexpected(
        Error{"hashing.virtualNodes: must be in 1..1024, got " + std::to_string(virtualNodes)});
  }
  if (!(loadFactor >= 1.0 && loadFactor <= 4.0)) {
    return unexpected(
        Error{"hashing.loadFactor: must be in 1.0..4.0, got " + std::to_string(loadFactor)});
  }
  for (std::size_t i = 0; i < activePods.size(); ++i) {
    if (activePods[i].empty()) return unexpected(Error{"activePods: empty pod name"});
    if (!podIndex.emplace(activePods[i], i).second) {
      return unexpected(Error{"activePods: duplicate pod " + activePods[i]});
    }
  }
  if (ranges.empty()) return true;
  if (activePods.empty()) return unexpected(Error{"activePods: no active pod to place ranges on"});
  std::set<uint32_t> seen;
  for (uint32_t r : ranges) {
    if (!seen.insert(r).second) {
      return unexpected(Error{"ranges: duplicate range id " + std::to_string(r)});
    }
  }
  return true;
}

std::vector<RingPoint> BuildRing(const std::vector<std::string>& activePods, int virtualNodes) {
  std::vector<RingPoint> ring;
  ring.reserve(activePods.size() * static_cast<std::size_t>(virtualNodes));
  for (std::size_t p = 0; p < activePods.size(); ++p) {
    for (int v = 0; v < virtualNodes; ++v) {
      ring.push_back({RingHash(activePods[p] + "#" + std::to_string(v)), p});
    }
  }
  std::sort(ring.begin(), ring.end(), [&](const RingPoint& a, const RingPoint& b) {
    return a.pos != b.pos ? a.pos < b.pos : activePods[a.pod] < activePods[b.pod];
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
                 const std::unordered_map<std::string, std::size_t>& podIndex,
                 const std::map<uint32_t, std::string>& previousAssignment,
                 std::vector<std::size_t>& count) {
  const std::size_t R = slots.size(), N = count.size();
  std::vector<bool> joiner(N, true);
  for (auto& s : slots) {
    auto prev = previousAssignment.find(s.id);
    if (prev == previousAssignment.end()) continue;
    auto pi = podIndex.find(prev->second);
    if (pi == podIndex.end()) continue;
    s.owner = static_cast<long>(pi->second);
    ++count[pi->second];
    joiner[pi->second] = false;
  }
  const std::size_t fair = (R + N - 1) / N;
  for (auto& s : slots) {
    std::size_t natural = ring[s.ringIdx].pod;
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
void ShedOverBound(std::vector<Slot>& slots, const std::vector<std::string>& activePods,
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
      if (count[p] < count[best] || (count[p] == count[best] && activePods[p] < activePods[best]))
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
      std::size_t p = ring[(s.ringIdx + step) % ring.size()].pod;
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
                               const std::vector<std::string>& activePods, int virtualNodes,
                               double loadFactor,
                               const std::map<uint32_t, std::string>& previousAssignment) {
  std::unordered_map<std::string, std::size_t> podIndex;
  auto ok = ValidateAssign(ranges, activePods, virtualNodes, loadFactor, podIndex);
  if (!ok) return unexpected(ok.error());
  PlacementResult out;
  if (ranges.empty()) return out;
  const std::size_t R = ranges.size();
  const std::size_t N = activePods.size();
  const auto bound = static_cast<std::size_t>(
      std::ceil(loadFactor * static_cast<double>(R) / static_cast<double>(N) - 1e-9));
  out.bound = bound;
  std::vector<RingPoint> ring = BuildRing(activePods, virtualNodes);
  std::vector<Slot> slots = PlaceOnRing(ranges, ring);
  std::vector<std::size_t> count(N, 0);
  KeepAndJoin(slots, ring, podIndex, previousAssignment, count);
  ShedOverBound(slots, activePods, bound, count);
  ok = PlaceOrphans(slots, ring, bound, count);
  if (!ok) return unexpected(ok.error());
  for (const auto& s : slots) {
    const std::string& pod = activePods[static_cast<std::size_t>(s.owner)];
    auto prev = previousAssignment.find(s.id);
    if (prev == previousAssignment.end() || prev->second != pod) ++out.moved;
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
  std::sort(pods.begin(), pods.end(), [](const PodLoad& a, const PodLoad& b) {
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
                              const std::vector<std::string>& activePods,
                              const std::vector<std::string>& victims, int virtualNodes,
                              double loadFactor,
                              const std::map<uint32_t, std::string>& previousAssignment) {
  std::set<std::string> gone(victims.begin(), victims.end());
  std::vector<std::string> remaining;
  for (const auto& p : activePods) {
    if (!gone.count(p)) remaining.push_back(p);
  }
  if (remaining.empty()) return unexpected(Error{"victims: cannot drain every active pod"});
  return Assign(ranges, remaining, virtualNodes, loadFactor, previousAssignment);
}

}  // namespace shardcast::planner
