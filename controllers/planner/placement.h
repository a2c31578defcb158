// Bounded-load consistent hashing: the placement primitive shared by the
// ShardSet controller (initial placement, scale out/in) and the planner.
//
// Pure: no I/O, no clocks, no threads; deterministic for the same input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "util/expected.h"

namespace shardcast::planner {

// FNV-1a 64 of `data`; the routing document hashes keys by its high 32 bits.
uint64_t Fnv1a64(std::string_view data);
// Ring position of a pod's virtual node or of a range: FNV-1a 64 followed by
// the MurmurHash3 64-bit finalizer (FNV alone spreads short, similar names
// such as "kv-1#0" and "kv-10#0" poorly), high 32 bits.
inline uint32_t RingHash(std::string_view data) {
  uint64_t h = Fnv1a64(data);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return static_cast<uint32_t>(h >> 32);
}

struct PlacementResult {
  std::map<uint32_t, std::string> owners;  // range id -> pod
  std::size_t moved = 0;                   // ranges whose owner differs from previous
  std::size_t bound = 0;                   // ceil(c * ranges / pods)
};

// Assigns every range to one of `activePods`.
//
// Ring: `virtualNodes` points per pod at RingHash(pod + "#" + i); range `id`
// sits at RingHash("range-" + id). A range's natural owner is the first pod
// clockwise from it. Nobody holds more than bound = ceil(loadFactor * R / N).
//
// Minimal movement: (1) a range stays with its previous owner while that pod
// is active; (2) a joining pod (one that owned nothing before) takes the
// ranges whose natural owner it is, up to the fair share ceil(R/N); (3) pods
// over the bound shed their last ranges (ring order) to the least-loaded pods;
// (4) ranges of removed pods walk clockwise to the first pod under the bound.
// Adding one pod to N therefore moves about R/(N+1) ranges (almost all to the
// new pod), removing one moves only its ranges, and re-running with the same
// membership moves nothing.
[[nodiscard]] Result<PlacementResult> Assign(
    const std::vector<uint32_t>& ranges, const std::vector<std::string>& active_pods,
    int virtual_nodes, double load_factor,
    const std::map<uint32_t, std::string>& previous_assignment);

struct PodLoad {
  std::string name;
  double load = 0;         // observed load (any unit, compared only)
  std::size_t ranges = 0;  // ranges owned
};

// Ordinal of a pod named "<shardset>-<n>"; -1 when the name has no ordinal.
long PodOrdinal(std::string_view name);

// Picks `count` scale-in victims. The pods at or below the mean load come
// first, fewest ranges first (a drain moves every range the victim owns, so
// the cheapest drain goes first; their load fits where the average pod's
// does), then by load; then the pods above the mean, least loaded first.
// Ties go to the highest ordinal (names stay compact: lowest free ordinal
// first).
std::vector<std::string> PickScaleInVictims(std::vector<PodLoad> pods, std::size_t count);

// Re-assigns the victims' ranges over the remaining pods; every other range
// stays where it is (Assign with the victims removed).
[[nodiscard]] Result<PlacementResult> Drain(
    const std::vector<uint32_t>& ranges, const std::vector<std::string>& active_pods,
    const std::vector<std::string>& victims, int virtual_nodes, double load_factor,
    const std::map<uint32_t, std::string>& previous_assignment);

}  // namespace shardcast::planner
