#include "controllers/migrationpolicy/planner_policy.h"

namespace shardcast::migrationpolicy {

namespace {
std::vector<planner::Schedule> Schedules(const std::vector<api::Schedule>& in) {
  std::vector<planner::Schedule> out;
  for (const auto& s : in) out.push_back({s.cron, s.duration_seconds});
  return out;
}
}  // namespace

planner::Policy PlannerPolicy(const api::MigrationPolicy& p) {
  planner::Policy pl;
  pl.confidence = p.confidence;
  pl.targetUtilization = p.target_utilization;
  pl.maxUtilization = p.max_utilization;
  pl.scaleInUtilization = p.scale_in_utilization;
  pl.maxConcurrentMigrations = p.max_concurrent_migrations;
  pl.maxMovesPerHour = p.max_moves_per_hour;
  pl.cooldownSeconds = p.cooldown_seconds;
  pl.scaleInStabilizationSeconds = p.scale_in_stabilization_seconds;
  pl.windows = Schedules(p.windows);
  pl.blackouts = Schedules(p.blackouts);
  pl.promotionLeadSeconds = static_cast<double>(p.promotion_lead_seconds);
  pl.perRangeLeadSeconds = static_cast<double>(p.per_range_lead_seconds);
  // Every event: those naming ranges multiply only those ranges, in the
  // planner; those without ranges scale whole pod forecasts in the forecast
  // controller, and the planner uses them to act a lead time ahead, for pods
  // planned on observed load and to check maxReplicas (planner.h).
  for (const auto& e : p.events) {
    pl.events.push_back({e.name, e.start, e.duration_seconds, e.multiplier, e.ranges});
  }
  return pl;
}

void FillShardSetState(const api::ShardSet& set, planner::ShardSetState* state) {
  state->name = set.name;
  state->minReplicas = set.min_replicas;
  state->maxReplicas = set.max_replicas;
  state->warmPoolSize = set.warm_pool;
  state->configuredRanges = set.ranges;
  state->loadFactor = set.load_factor;
}

}  // namespace shardcast::migrationpolicy
