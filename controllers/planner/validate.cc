// Validation of the planner input: every field checked, errors name it.
#include <algorithm>
#include <cmath>
#include <unordered_set>
#include <utility>

#include "controllers/planner/planner_internal.h"

namespace shardcast::planner::internal {
namespace {

bool Finite(double v) { return std::isfinite(v); }

Result<bool> ValidateSeries(const SeriesForecast& f, const std::string& field) {
  for (auto [v, n] :
       {std::pair{f.observed, "observed"}, {f.p50, "p50"}, {f.p90, "p90"}, {f.p99, "p99"}}) {
    if (!Finite(v) || v < 0) {
      return unexpected(Error{field + "." + n + ": must be a finite number >= 0"});
    }
  }
  if (!Finite(f.prob_exceed) || f.prob_exceed < 0 || f.prob_exceed > 1) {
    return unexpected(Error{field + ".probExceed: must be in [0, 1]"});
  }
  if (f.time_to_crossing_seconds &&
      (!Finite(*f.time_to_crossing_seconds) || *f.time_to_crossing_seconds < 0)) {
    return unexpected(Error{field + ".timeToCrossingSeconds: must be >= 0"});
  }
  return true;
}

// Replica counts and pods; fills `names` with the pod names.
Result<bool> ValidatePods(const ShardSetState& s, std::unordered_set<std::string>& names) {
  if (s.min_replicas < 0) return unexpected(Error{"shardSet.spec.minReplicas: must be >= 0"});
  if (s.max_replicas < 1 || s.max_replicas < s.min_replicas) {
    return unexpected(Error{"shardSet.spec.maxReplicas: must be >= 1 and >= minReplicas"});
  }
  if (s.warm_pool_size < 0) return unexpected(Error{"shardSet.spec.warmPool.size: must be >= 0"});
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
  return true;
}

Result<bool> ValidateRange(const Range& r, const std::string& f,
                           const std::unordered_set<std::string>& names) {
  if (r.start > r.end) return unexpected(Error{f + ".start: greater than end"});
  if (!names.count(r.owner)) {
    return unexpected(Error{f + ".owner: unknown pod \"" + r.owner + "\""});
  }
  for (const auto& e : r.echoes) {
    if (!names.count(e)) return unexpected(Error{f + ".echoes: unknown pod \"" + e + "\""});
    if (e == r.owner) return unexpected(Error{f + ".echoes: the owner cannot be its own echo"});
  }
  if (r.read_fraction &&
      (!Finite(*r.read_fraction) || *r.read_fraction < 0 || *r.read_fraction > 1)) {
    return unexpected(Error{f + ".readFraction: must be in [0, 1]"});
  }
  if (r.size_bytes && (!Finite(*r.size_bytes) || *r.size_bytes < 0)) {
    return unexpected(Error{f + ".sizeBytes: must be >= 0"});
  }
  return true;
}

// Each range, then unique ids, then no overlap.
Result<bool> ValidateRanges(const ShardSetState& s, const std::unordered_set<std::string>& names) {
  std::vector<uint32_t> ids;
  ids.reserve(s.ranges.size());
  std::vector<std::pair<uint32_t, uint32_t>> spans;  // start, index
  for (std::size_t i = 0; i < s.ranges.size(); ++i) {
    const auto& r = s.ranges[i];
    ids.push_back(r.id);
    auto ok = ValidateRange(r, "ranges[" + std::to_string(i) + "]", names);
    if (!ok) return ok;
    spans.push_back({r.start, static_cast<uint32_t>(i)});
  }
  std::sort(ids.begin(), ids.end());
  for (std::size_t i = 1; i < ids.size(); ++i) {
    if (ids[i] != ids[i - 1]) continue;
    for (std::size_t j = 0; j < s.ranges.size(); ++j) {
      if (s.ranges[j].id == ids[i]) {
        return unexpected(Error{"ranges[" + std::to_string(j) + "].id: duplicate range id " +
                                std::to_string(ids[i])});
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
  return true;
}

Result<bool> ValidatePolicy(const Policy& p) {
  if (!(p.scale_in_utilization >= 0 && p.scale_in_utilization < p.target_utilization &&
        p.target_utilization < p.max_utilization && p.max_utilization <= 1)) {
    return unexpected(
        Error{"policy.thresholds: need 0 <= scaleInUtilization < targetUtilization < "
              "maxUtilization <= 1"});
  }
  if (!(p.confidence >= 0.5 && p.confidence <= 0.999)) {
    return unexpected(Error{"policy.forecast.confidence: must be in [0.5, 0.999]"});
  }
  // The CRD caps these (1..64, 1..10000); the planner only needs them >= 1.
  if (p.max_concurrent_migrations < 1) {
    return unexpected(Error{"policy.limits.maxConcurrentMigrations: must be >= 1"});
  }
  if (p.max_moves_per_hour < 1) {
    return unexpected(Error{"policy.limits.maxMovesPerHour: must be >= 1"});
  }
  if (p.cooldown_seconds < 0) return unexpected(Error{"policy.limits.cooldown: must be >= 0"});
  if (p.scale_in_stabilization_seconds < 0) {
    return unexpected(Error{"policy.limits.scaleInStabilization: must be >= 0"});
  }
  if (!(p.promotion_lead_seconds >= 0) || !(p.per_range_lead_seconds >= 0) ||
      !(p.lead_margin_seconds >= 0)) {
    return unexpected(Error{"policy.migration.leadTime: must be >= 0"});
  }
  if (!(p.decision_interval_seconds >= 0 && p.decision_interval_seconds < 1e9)) {
    return unexpected(Error{"policy.forecast.step (decision interval): must be >= 0"});
  }
  if (!(p.echo_sync_cost >= 0 && p.echo_sync_cost <= 100)) {
    return unexpected(Error{"policy.migration.echoSyncCost: must be in [0, 100]"});
  }
  if (!(p.read_heavy_fraction >= 0 && p.read_heavy_fraction <= 1)) {
    return unexpected(Error{"policy.readHeavyFraction: must be in [0, 1]"});
  }
  if (!(p.hot_range_fraction >= 0 && p.hot_range_fraction <= 1)) {
    return unexpected(Error{"policy.hotRangeFraction: must be in [0, 1]"});
  }
  if (!(p.giant_fraction > 0 && p.giant_fraction <= 1)) {
    return unexpected(Error{"policy.giantFraction: must be in (0, 1]"});
  }
  if (!(p.low_confidence_band >= 0 && Finite(p.low_confidence_band))) {
    return unexpected(Error{"policy.lowConfidenceBand: must be a finite number >= 0"});
  }
  if (!(p.low_confidence_margin >= 0 && p.low_confidence_margin < 1)) {
    return unexpected(Error{"policy.lowConfidenceMargin: must be in [0, 1)"});
  }
  if (!(p.overload_weight >= 0 && Finite(p.overload_weight))) {
    return unexpected(Error{"policy.overloadWeight: must be a finite number >= 0"});
  }
  for (std::size_t i = 0; i < p.events.size(); ++i) {
    const auto& e = p.events[i];
    std::string f = "policy.events[" + std::to_string(i) + "]";
    if (!(e.multiplier >= 0 && Finite(e.multiplier)))
      return unexpected(Error{f + ".multiplier: must be a finite number >= 0"});
    if (e.duration_seconds < 0) return unexpected(Error{f + ".duration: must be >= 0"});
  }
  return true;
}

}  // namespace

Result<bool> Validate(const PlanInput& in) {
  std::unordered_set<std::string> names;
  if (auto ok = ValidatePods(in.state, names); !ok) return ok;
  if (auto ok = ValidateRanges(in.state, names); !ok) return ok;
  if (auto ok = ValidatePolicy(in.policy); !ok) return ok;
  if (in.history.in_flight_migrations < 0) {
    return unexpected(Error{"history.inFlightMigrations: must be >= 0"});
  }
  if (in.history.promotion_seconds &&
      !(*in.history.promotion_seconds >= 0 && Finite(*in.history.promotion_seconds))) {
    return unexpected(Error{"history.promotionSeconds: must be a finite number >= 0"});
  }
  if (in.history.move_seconds &&
      !(*in.history.move_seconds >= 0 && Finite(*in.history.move_seconds))) {
    return unexpected(Error{"history.moveSeconds: must be a finite number >= 0"});
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

}  // namespace shardcast::planner::internal
