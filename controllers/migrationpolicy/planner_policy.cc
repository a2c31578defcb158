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
  pl.target_utilization = p.target_utilization;
  pl.max_utilization = p.max_utilization;
  pl.scale_in_utilization = p.scale_in_utilization;
  pl.max_concurrent_migrations = p.max_concurrent_migrations;
  pl.max_moves_per_hour = p.max_moves_per_hour;
  pl.cooldown_seconds = p.cooldown_seconds;
  pl.scale_in_stabilization_seconds = p.scale_in_stabilization_seconds;
  pl.windows = Schedules(p.windows);
  pl.blackouts = Schedules(p.blackouts);
  pl.promotion_lead_seconds = static_cast<double>(p.promotion_lead_seconds);
  pl.per_range_lead_seconds = static_cast<double>(p.per_range_lead_seconds);
  pl.prewarm = p.prewarm;
  pl.echo_sync_cost = p.echo_sync_cost;
  pl.decision_interval_seconds = static_cast<double>(p.step_seconds);
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
  state->min_replicas = set.min_replicas;
  state->max_replicas = set.max_replicas;
  state->warm_pool_size = set.warm_pool;
  state->configured_ranges = set.ranges;
  state->load_factor = set.load_factor;
}

}  // namespace shardcast::migrationpolicy
