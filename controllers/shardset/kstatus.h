// kstatus conditions of a ShardSet (see controllers/api/conditions.h): the
// verdict is derived from the Degraded, Progressing and Ready conditions the
// reconciler computes each round.
#pragma once

#include <string>
#include <vector>

#include "controllers/api/conditions.h"
#include "controllers/shardset/shardset.h"

namespace shardcast::shardset {

// Whether a Degraded reason means the controller cannot progress until the
// ShardSet (or another object a person owns) changes: an invalid spec, pods
// the API server refuses to create, a routing ConfigMap owned by someone
// else, a placement that cannot succeed, a routing document that is invalid
// or missing (a person repairs or restores it). Other reasons are retried.
bool IsStalledReason(const std::string& degraded_reason);

// Stalled when Degraded=True for a stalled reason; else Reconciling while
// Progressing=True or Ready=False; else converged.
api::Verdict ShardSetVerdict(const std::vector<Condition>& conds);

// Adds Reconciling and Stalled to `conds` (and forces Ready=False when
// stalled). Call after Degraded, Progressing and Ready are in `conds`.
void AddKstatusConditions(std::vector<Condition>& conds);

}  // namespace shardcast::shardset
