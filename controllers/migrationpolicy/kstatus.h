// kstatus conditions of a MigrationPolicy (see controllers/api/conditions.h).
// A policy is Stalled when it cannot act until a person changes something:
// an invalid spec, windows that never open, a blackout that never ends, a
// plan blocked by maxReplicas or the warm pool, or every selected ShardSet
// governed by another (older) policy. It is not Ready (kstatus InProgress)
// while it governs no ShardSet. Running actions do not make it Reconciling:
// the spec is applied, moving load is the policy's steady work.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "controllers/api/conditions.h"
#include "controllers/migrationpolicy/migrationpolicy.h"

namespace shardcast::migrationpolicy {

// Why no action can ever start under `spec` ("" when some can): every window
// has zero length, or a blackout covers every minute.
std::string NeverActs(const PolicySpec& spec);

// Adds Reconciling and Stalled to the conditions WriteStatus builds (Ready,
// Conflict, Blocked, Planned) and corrects Ready.
void AddKstatusConditions(std::vector<Condition>& conds, const PolicySpec& spec,
                          const Selection& sel);

// The conditions of a policy whose spec does not parse: Ready=False and
// Stalled=True (reason InvalidSpec), Reconciling=False.
std::vector<Condition> InvalidSpecConditions(const std::string& message);

// Whether `prev_status` already records this invalid-spec `message` for
// `generation` (then the reconciler need not write again).
bool InvalidSpecRecorded(const nlohmann::json& prev_status, const std::string& message,
                         int64_t generation);

}  // namespace shardcast::migrationpolicy
