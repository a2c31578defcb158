// What a MigrationPolicy says about its plans beyond the actions:
//  - declared events that maxReplicas cannot cover: condition CapacityShort
//    (reason MaxReplicasTooLow) while it holds, and one Warning Event
//    MaxReplicasTooLow per event occurrence (event name and start);
//  - flaps the planner refused (a pod promoted and scaled in again, or the
//    reverse, within the cooldown): status.flapsRefused, cumulative per
//    policy over its ShardSets, each refusal counted once (pod and the time
//    of the action it would undo), and a Normal Event FlapRefused at most
//    once per ShardSet per cooldown.
// The decisions are pure; NoticeLedger keeps, in memory, what was already
// said, so a restart may repeat one Event and recount a refusal in progress.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "controllers/migrationpolicy/migrationpolicy.h"
#include "controllers/planner/planner.h"

namespace shardcast::migrationpolicy {

// One ShardSet's plan, as far as notices go.
struct PlanFindings {
  std::string shard_set;
  std::vector<planner::EventShortfall> shortfalls;
  std::vector<std::string> flap_pods;
  std::map<std::string, int64_t> pod_last_action;  // of flapPods, from the plan's history
};

PlanFindings FindingsOf(const std::string& shard_set, const planner::Plan& plan,
                        const planner::History& history);

// "event sale (starts 2026-11-27T08:00:00Z) needs 8 active pods in ShardSet
// kv at maxUtilization; maxReplicas is 6".
std::string ShortfallMessage(const std::string& shard_set, const planner::EventShortfall& s);

// CapacityShort: True/MaxReplicasTooLow naming every shortfall, or
// False/CapacitySufficient. When nothing was planned this round (`evaluated`
// false: actions in flight), the previous CapacityShort condition is kept
// (Unknown/NotEvaluated when there is none).
Condition CapacityShortCondition(const std::vector<PlanFindings>& findings, bool evaluated,
                                 const Json& previous_conditions);

// status.flapsRefused (0 when absent or malformed).
int64_t FlapsRefusedOf(const Json& status);

struct Notice {
  bool warning = false;
  std::string reason, message;
};

class NoticeLedger {
 public:
  struct Seen {
    std::vector<Notice> events;  // to emit now
    int64_t new_flaps = 0;       // to add to status.flapsRefused
  };
  Seen Observe(const std::string& policy, const std::vector<PlanFindings>& findings,
               int64_t cooldown_seconds, int64_t now);

 private:
  std::mutex mu_;
  std::map<std::string, int64_t> warned_;           // policy|set|event|start -> start
  std::map<std::string, int64_t> flaps_;            // policy|set|pod|action time -> action time
  std::map<std::string, int64_t> last_flap_event_;  // policy|set -> when
};

}  // namespace shardcast::migrationpolicy
