// The planner's view of the typed API objects: planner::Policy from a
// MigrationPolicy and the spec part of planner::ShardSetState from a
// ShardSet. Shared by the MigrationPolicy controller and `shardcast plan`,
// so both plan with the same settings. Pure.
#pragma once

#include "controllers/api/migration_policy.h"
#include "controllers/api/shardset.h"
#include "controllers/planner/planner.h"

namespace shardcast::migrationpolicy {

planner::Policy PlannerPolicy(const api::MigrationPolicy& policy);

// name, min/max replicas, warm pool size, configured ranges and load factor.
// Pods and ranges are the caller's (observed state).
void FillShardSetState(const api::ShardSet& set, planner::ShardSetState* state);

}  // namespace shardcast::migrationpolicy
