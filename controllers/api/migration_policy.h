// The typed MigrationPolicy (crds/shardcast.dev_migrationpolicies.yaml) and
// its one parser. The MigrationPolicy controller, the forecast controller and
// `shardcast plan` all read a policy through ParseMigrationPolicy; no other
// code reads spec fields out of JSON. Defaults are the CRD's; errors name the
// field ("spec.limits.cooldown: ...").
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "util/expected.h"
#include "util/label_selector.h"

namespace shardcast::api {

using Json = nlohmann::json;

enum class Mode { kAuto, kProposal, kObserve };
const char* ModeName(Mode m);

// spec.forecast.seasonality. Auto: daily and weekly cycles; Manual:
// spec.forecast.seasonalPeriods; None: no seasonal model.
enum class Seasonality { kAuto, kManual, kNone };

struct Schedule {    // spec.windows[] / spec.blackouts[]
  std::string cron;  // 5 fields, validated (util::Cron)
  int64_t duration_seconds = 0;
};

struct LoadEvent {  // spec.events[]
  std::string name;
  int64_t start = 0;  // Unix seconds
  int64_t duration_seconds = 0;
  double multiplier = 1.0;
  std::vector<uint32_t> ranges;  // range ids it affects; empty = every range
};

struct MigrationPolicy {
  // metadata
  std::string ns, name, uid;
  int64_t generation = 0;
  int64_t created = 0;  // metadata.creationTimestamp (Unix seconds, 0 when absent)
  std::string approve;  // annotation shardcast.dev/approve ("" when absent)
  // spec
  Mode mode = Mode::kProposal;
  util::LabelSelector selector;  // spec.shardSetSelector; absent selects every ShardSet
  double confidence = 0.9;       // range checked by the planner (policy.forecast.confidence)
  int64_t horizon_seconds = 1800;
  int64_t step_seconds = 60;
  Seasonality seasonality = Seasonality::kAuto;
  std::vector<int64_t> seasonal_periods_seconds;  // Manual only
  double target_utilization = 0.6;
  double max_utilization = 0.8;
  double scale_in_utilization = 0.3;
  int max_concurrent_migrations = 2;
  int max_moves_per_hour = 32;
  int64_t cooldown_seconds = 300;
  int64_t scale_in_stabilization_seconds = 1800;
  std::vector<Schedule> windows;
  std::vector<Schedule> blackouts;
  int64_t promotion_lead_seconds = 30;
  int64_t per_range_lead_seconds = 10;
  bool prewarm = false;         // spec.migration.prewarm
  double echo_sync_cost = 1.5;  // spec.migration.echoSyncCost
  bool shadow_enabled = false;
  double shadow_fraction = 0.1;
  int64_t shadow_seconds = 60;
  int64_t verification_seconds = 120;
  double max_error_rate = 0.01;
  double max_latency_ratio = 1.5;
  int64_t proposal_ttl_seconds = 900;
  std::vector<LoadEvent> events;
};

[[nodiscard]] Result<MigrationPolicy> ParseMigrationPolicy(const Json& obj);

// The spec.shardSetSelector of a policy object alone (for choosing among
// every policy of a namespace, including ones whose other fields are
// invalid). Absent selects every ShardSet, as the CRD documents.
[[nodiscard]] Result<util::LabelSelector> ShardSetSelectorOf(const Json& policy);

// metadata.creationTimestamp in Unix seconds; 0 when absent or malformed.
int64_t CreationTime(const Json& obj);

}  // namespace shardcast::api
