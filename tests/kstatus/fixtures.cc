#include "tests/kstatus/fixtures.h"

#include "controllers/migrationpolicy/kstatus.h"
#include "controllers/migrationpolicy/migrationpolicy.h"
#include "controllers/shardset/kstatus.h"
#include "controllers/shardset/shardset.h"

namespace shardcast::kstatus_fixtures {
namespace {

using Json = nlohmann::json;
constexpr const char* kNow = "2026-11-22T00:00:00Z";

Json Meta(const std::string& name, int64_t generation) {
  return {{"name", name},
          {"namespace", "team-a"},
          {"uid", "uid-" + name},
          {"generation", generation},
          {"creationTimestamp", "2026-11-21T00:00:00Z"}};
}

// ---- ShardSet: the conditions WriteStatus builds, then the kstatus ones ----

struct SetRound {
  std::string degraded_reason;  // "" = not degraded
  std::string degraded_message;
  std::string progressing_reason = "Converged";
  std::string summary;
  bool ready = false;
};

Json ShardSet(const std::string& name, int64_t generation, int64_t observed, const SetRound& r) {
  shardset::StatusInput in;
  in.observed_generation = observed;
  in.selector = "shardcast.dev/shardset=" + name;
  in.desired_replicas = 3;
  in.epoch = r.ready ? 1 : 0;
  bool degraded = !r.degraded_reason.empty();
  in.conditions.push_back({"Degraded", degraded ? "True" : "False",
                           degraded ? r.degraded_reason : "AsExpected", r.degraded_message});
  bool progressing = r.progressing_reason != "Converged";
  in.conditions.push_back({"Progressing", progressing ? "True" : "False", r.progressing_reason,
                           progressing ? r.summary : ""});
  in.conditions.push_back({"Ready", r.ready ? "True" : "False",
                           r.ready ? "AllRangesServed" : "NotReady",
                           r.ready ? "3/3 active pods ready; every range has a ready owner"
                                   : "0/3 active pods ready; no routing document yet"});
  shardset::AddKstatusConditions(in.conditions);
  return {{"apiVersion", "shardcast.dev/v1alpha1"},
          {"kind", "ShardSet"},
          {"metadata", Meta(name, generation)},
          {"spec", {{"replicas", 3}}},
          {"status", shardset::BuildStatus(in, Json::object(), kNow)}};
}

// ---- MigrationPolicy: WriteStatus's conditions, then the kstatus ones ----

Json PolicyObject(const std::string& name, int64_t generation, const Json& spec) {
  return {{"apiVersion", "shardcast.dev/v1alpha1"},
          {"kind", "MigrationPolicy"},
          {"metadata", Meta(name, generation)},
          {"spec", spec}};
}

Json Policy(const std::string& name, const Json& spec, const migrationpolicy::Selection& sel,
            const std::string& blocked, const std::string& planned) {
  Json obj = PolicyObject(name, 1, spec);
  auto parsed = migrationpolicy::ParsePolicy(obj);
  if (!parsed) return obj;  // the caller's spec is valid; All() checks the verdicts
  std::vector<migrationpolicy::Condition> conds;
  conds.push_back(
      {"Ready", "True", "Applied",
       "mode Auto; governs " + (sel.governed.empty() ? "no ShardSet" : sel.governed[0])});
  conds.push_back({"Conflict", sel.conflicts.empty() ? "False" : "True",
                   sel.conflicts.empty() ? "NoConflict" : "ShardSetSelectedByMultiplePolicies",
                   ""});
  conds.push_back({"Blocked", blocked.empty() ? "False" : "True",
                   blocked.empty() ? "NotBlocked" : "ConstraintUnsatisfiable", blocked});
  bool active = planned == "Executing" || planned == "ProposalPending";
  conds.push_back({"Planned", active ? "True" : "False", planned, ""});
  migrationpolicy::AddKstatusConditions(conds, *parsed, sel);
  obj["status"] = {{"observedGeneration", 1},
                   {"selectedShardSets", sel.governed},
                   {"conditions", migrationpolicy::BuildConditions(conds, Json::array(), 1, kNow)}};
  return obj;
}

Json InvalidPolicy(const std::string& name) {
  Json obj = PolicyObject(name, 1, {{"limits", {{"cooldown", "five minutes"}}}});
  auto parsed = migrationpolicy::ParsePolicy(obj);
  std::string message = parsed ? "unexpectedly valid" : parsed.error().message;
  obj["status"] = {
      {"observedGeneration", 1},
      {"conditions", migrationpolicy::BuildConditions(
                         migrationpolicy::InvalidSpecConditions(message), Json::array(), 1, kNow)}};
  return obj;
}

}  // namespace

std::vector<Fixture> All() {
  std::vector<Fixture> out;
  const Json auto_spec = {{"mode", "Auto"},
                          {"shardSetSelector", {{"matchLabels", {{"app", "kv"}}}}}};
  migrationpolicy::Selection governs;
  governs.governed = {"kv"};
  migrationpolicy::Selection none;
  migrationpolicy::Selection lost;
  lost.conflicts.push_back({"kv", {"older", "mp-conflict-lost"}, "older"});

  out.push_back({"shardset-converging", "InProgress",
                 ShardSet("kv", 1, 1, {"", "", "CreatingPods", "creating 4 pod(s)", false})});
  out.push_back({"shardset-waiting-for-pods", "InProgress",
                 ShardSet("kv", 1, 1, {"", "", "WaitingForPods", "2/3 pods ready", false})});
  out.push_back(
      {"shardset-converged", "Current", ShardSet("kv", 1, 1, {"", "", "Converged", "", true})});
  out.push_back({"shardset-generation-ahead", "InProgress",
                 ShardSet("kv", 2, 1, {"", "", "Converged", "", true})});
  out.push_back(
      {"shardset-invalid-spec", "Failed",
       ShardSet("kv", 1, 1,
                {"InvalidSpec", "spec.routing.configMapName: must be a DNS-1123 subdomain",
                 "Converged", "", false})});
  out.push_back(
      {"shardset-pod-create-failed", "Failed",
       ShardSet("kv", 1, 1,
                {"PodCreateFailed",
                 "spec.template: the API server rejected pod kv-0: spec.containers: Required value",
                 "CreatingPods", "creating 4 pod(s)", false})});
  out.push_back(
      {"shardset-routing-write-retrying", "InProgress",
       ShardSet("kv", 1, 1,
                {"RoutingWriteFailed", "routing: writing ConfigMap kv-routing failed: timeout",
                 "Rebalancing", "publishing routing", false})});

  out.push_back({"migrationpolicy-converged", "Current",
                 Policy("mp-converged", auto_spec, governs, "", "NothingToDo")});
  out.push_back({"migrationpolicy-executing", "Current",
                 Policy("mp-executing", auto_spec, governs, "", "Executing")});
  out.push_back({"migrationpolicy-no-shardset-yet", "InProgress",
                 Policy("mp-no-shardset-yet", auto_spec, none, "", "NothingToDo")});
  out.push_back({"migrationpolicy-invalid-spec", "Failed", InvalidPolicy("mp-invalid-spec")});
  out.push_back(
      {"migrationpolicy-blocked", "Failed",
       Policy("mp-blocked", auto_spec, governs,
              "kv: kv-1: even moving every movable range leaves it above targetUtilization; "
              "maxReplicas 3 reached and the warm pool is empty",
              "NothingToDo")});
  Json zero_window = auto_spec;
  zero_window["windows"] = Json::array({{{"schedule", "0 8 * * 1-5"}, {"duration", "0s"}}});
  out.push_back({"migrationpolicy-zero-length-window", "Failed",
                 Policy("mp-zero-length-window", zero_window, governs, "", "NothingToDo")});
  Json always_blackout = auto_spec;
  always_blackout["blackouts"] = Json::array({{{"schedule", "* * * * *"}, {"duration", "1m"}}});
  out.push_back({"migrationpolicy-always-blacked-out", "Failed",
                 Policy("mp-always-blacked-out", always_blackout, governs, "", "NothingToDo")});
  out.push_back({"migrationpolicy-conflict-lost", "Failed",
                 Policy("mp-conflict-lost", auto_spec, lost, "", "NothingToDo")});
  return out;
}

}  // namespace shardcast::kstatus_fixtures
