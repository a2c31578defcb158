// What the forecast controller needs from a ShardSet and the
// MigrationPolicy selecting it. Both are parsed by the typed API layer
// (controllers/api/shardset.h, controllers/api/migration_policy.h); this file
// only picks the fields the forecaster uses. Pure.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "controllers/api/migration_policy.h"
#include "controllers/api/shardset.h"
#include "predictor/forecaster.h"
#include "util/expected.h"

namespace shardcast::forecast {

using Json = nlohmann::json;
using api::CapacityMetric;

struct SetSettings {
  std::string ns, name, uid;
  CapacityMetric metric = CapacityMetric::kCpu;
  double capacity = 1000;  // per pod, in units of the metric (millicores or req/s)
  int metrics_port = 9090;
  std::string metrics_path = "/metrics";
  std::string routing_configmap;  // spec.routing.configMapName ("" when unset)
  api::RoutersSpec routers;       // spec.routers (enabled = false when absent)
  bool hooks = false;             // spec.hooks set: the shard agent answers range sizes (C4)
  int hooks_port = 8081;
};

struct PolicySettings {
  std::string policy;  // "" when no policy selects the set
  int64_t step_seconds = 60;
  int64_t horizon_seconds = 1800;
  std::vector<int64_t> seasons_seconds{86400, 604800};  // "Auto": daily and weekly; "None": empty
  double max_utilization = 0.8;
  std::vector<predictor::LoadEvent> events;
};

SetSettings SettingsOf(const api::ShardSet& set);
PolicySettings SettingsOf(const api::MigrationPolicy& policy);

// api::ParseShardSet (ShardSetUse::kLoad) / api::ParseMigrationPolicy, then SettingsOf.
[[nodiscard]] Result<SetSettings> ParseShardSet(const Json& obj);
[[nodiscard]] Result<PolicySettings> ParsePolicy(const Json& obj);

// The policy selecting `set` among `policies` (same namespace): the oldest
// by creationTimestamp, then by name. A policy without shardSetSelector
// selects every ShardSet (as the CRD says); one with a malformed selector
// selects none. nullptr when none.
const Json* SelectPolicy(const Json& set, const std::vector<const Json*>& policies);

}  // namespace shardcast::forecast
