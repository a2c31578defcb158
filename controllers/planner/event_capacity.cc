// Declared events against maxReplicas: for every event not yet over, the
// active pods its load needs at maxUtilization, reported when maxReplicas
// cannot give them (planner.h, EventShortfall). Uses the load model's
// per-range loads before events (RangeModel::base).
#include <cmath>

#include "controllers/planner/planner_internal.h"
#include "controllers/planner/schedule.h"

namespace shardcast::planner::internal {
namespace {

bool Names(const RangeEvent& ev, uint32_t id) {
  for (uint32_t r : ev.ranges) {
    if (r == id) return true;
  }
  return false;
}

}  // namespace

void Planner::CheckEventCapacity() {
  if (in_.state.pods.empty()) return;
  double cap = 0;
  for (const auto& p : in_.state.pods) cap += p.capacity;
  cap /= static_cast<double>(in_.state.pods.size());
  const double per_pod = pol_.max_utilization * cap;
  if (!(per_pod > 0)) return;
  const double end = static_cast<double>(in_.now) + in_.forecasts.horizon_seconds;
  for (const auto& ev : pol_.events) {
    if (ev.start + ev.duration_seconds <= in_.now) continue;  // over
    const bool in_horizon = static_cast<double>(ev.start) < end;
    double load = 0;
    for (std::size_t r = 0; r < ranges_.size(); ++r) {
      bool scaled = ev.ranges.empty() ? true : Names(ev, st_.ranges[r].id);
      // Trusted pod forecasts already carry an every-range event that
      // overlaps the horizon (the forecast controller applied it).
      if (ev.ranges.empty() && in_horizon && pods_[ranges_[r].initial_owner].trusted)
        scaled = false;
      load += ranges_[r].base * (scaled ? ev.multiplier : 1.0);
    }
    const int needed = static_cast<int>(std::ceil(load / per_pod - 1e-9));
    if (needed <= st_.max_replicas) continue;
    plan_.event_shortfalls.push_back({ev.name, ev.start, load, needed, st_.max_replicas});
    plan_.notes.push_back({"plan", "event " + ev.name + " at " + FormatRfc3339(ev.start) +
                                       " needs " + std::to_string(needed) +
                                       " active pods at maxUtilization " +
                                       Pct(pol_.max_utilization) + "; maxReplicas is " +
                                       std::to_string(st_.max_replicas)});
  }
}

}  // namespace shardcast::planner::internal
