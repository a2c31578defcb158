// What one reconcile round of the MigrationPolicy controller holds (shared by
// reconciler.cc, which selects, plans and writes status, and executor.cc,
// which advances the actions). Internal to the controller.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "controllers/migrationpolicy/notices.h"
#include "controllers/migrationpolicy/reconciler.h"
#include "controllers/shardset/shardset.h"

namespace shardcast::migrationpolicy {

struct MigrationPolicyReconciler::SetState {
  std::string name;
  bool exists = false;
  Json obj;
  api::ShardSet set;  // parsed spec (valid when exists and problem is empty)
  int replicas = 0, min_replicas = 1, max_replicas = 10;
  std::string cm_name;
  std::vector<shardset::ObservedPod> pods;  // live pods
  std::map<std::string, Json> pod_objs;
  Json cm;   // null when absent
  Json doc;  // parsed routing.json, null when absent/invalid
  std::string problem;
  std::optional<ObservedLoad> load;                 // observed, fetched lazily
  bool router_telemetry = false;                    // spec.routers is set (C2)
  std::map<uint32_t, RouterCounters> router_stats;  // status.routerStats (C2)
};

// A replica request of this policy (status.replicaRequests[]).
struct StoredRequest {
  int replicas = 0;
  std::string action;
  std::string requested_at;
};

struct MigrationPolicyReconciler::Round {
  std::string key;
  Json obj;
  PolicySpec spec;
  uint64_t token = 1;  // the fencing token stamped on every write and hook call
  uint64_t base = 1;   // the manager's token (may_write is asked about it)
  int64_t now = 0;
  Selection sel;
  std::vector<ActionRecord> actions, history;
  Json proposal;  // null = none
  std::map<std::string, SetState> sets;
  std::vector<std::string> notes;  // Planned condition message parts
  std::string planned_reason = "NothingToDo";
  std::vector<std::string> blocked;  // impossible constraints
  std::optional<std::chrono::milliseconds> requeue;
  std::map<std::string, StoredRequest> requests;  // by ShardSet name
  // C1 Moves waiting for a proposal (Proposal mode), by ShardSet.
  std::map<std::string, std::vector<ActionRecord>> request_moves;
  bool planned = false;                // plan() ran this round
  std::vector<PlanFindings> findings;  // event shortfalls, refused flaps (notices.h)
  int64_t new_flaps = 0;               // refusals first seen this round
};

// The observed load (PodMetrics CPU millicores) is in the unit of the
// capacity only for capacity.metric CPU.
inline bool ObservedIsCapacityUnit(const api::ShardSet& set) {
  return set.metric == api::CapacityMetric::kCpu && set.capacity > 0;
}

}  // namespace shardcast::migrationpolicy
