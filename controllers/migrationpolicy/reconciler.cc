#include "controllers/migrationpolicy/reconciler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <set>

#include "controllers/api/fencing.h"
#include "controllers/api/resources.h"
#include "controllers/migrationpolicy/kstatus.h"
#include "controllers/migrationpolicy/reconciler_state.h"
#include "controllers/planner/schedule.h"
#include "controllers/shardset/shardset.h"

namespace shardcast::migrationpolicy {
namespace {

using kube::ErrorKind;
using ms = std::chrono::milliseconds;

bool Deleting(const Json& obj) {
  return obj.is_object() && obj.contains("metadata") && obj["metadata"].is_object() &&
         obj["metadata"].contains("deletionTimestamp") &&
         !obj["metadata"]["deletionTimestamp"].is_null();
}

int IntAt(const Json& obj, const char* key, int def) {
  if (!obj.is_object() || !obj.contains(key) || !obj[key].is_number_integer()) return def;
  return obj[key].get<int>();
}

}  // namespace

MigrationPolicyReconciler::MigrationPolicyReconciler(ReconcilerDeps deps) : deps_(std::move(deps)) {
  if (!deps_.fencing_token) deps_.fencing_token = [] { return uint64_t{1}; };
  if (!deps_.may_write) deps_.may_write = [](uint64_t) { return true; };
  if (!deps_.now) {
    deps_.now = [] {
      return std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
  }
  if (!deps_.hooks) deps_.hooks = MakeSocketHookClient();
  if (!deps_.hook_endpoint) {
    deps_.hook_endpoint = [](const std::string&, const std::string& ip, int port) {
      return shardset::Endpoint(ip, port);
    };
  }
  if (!deps_.sample_time) deps_.sample_time = [](int64_t t) { return t; };
  if (!deps_.observed_load) {
    auto client = deps_.client;
    auto sample_time = deps_.sample_time;
    deps_.observed_load = [client, sample_time](const std::string& ns, const std::string& set) {
      ObservedLoad out;
      if (!client) return out;
      kube::ListOptions o;
      o.label_selector = std::string(api::kLabelShardSet) + "=" + set;
      auto l = client->list(kube::resources::kPodMetrics, ns, o);
      if (!l) {
        spdlog::debug("migrationpolicy: PodMetrics for {}/{}: {}", ns, set, l.error().to_string());
        return out;
      }
      if (!l->contains("items") || !(*l)["items"].is_array()) return out;
      for (const auto& pm : (*l)["items"]) {
        auto v = PodMetricsMillicores(pm);
        if (!v) continue;
        const std::string pod = kube::ObjectName(pm);
        out.value[pod] = *v;
        auto at = PodMetricsTime(pm);
        if (at) out.at[pod] = sample_time(*at);
      }
      return out;
    };
  }
  if (deps_.metrics != nullptr) {
    auto m = deps_.metrics->counter(
        "shardcast_migrations_total",
        "Range moves finished, by ShardSet and result (Completed, Reverted, Failed).",
        {"shardset", "result"});
    if (m) migrations_ = *m;
    auto p = deps_.metrics->counter("shardcast_proposals_total", "Plans published as proposals.",
                                    {"policy"});
    if (p) proposals_ = *p;
    if (!m || !p) spdlog::error("migrationpolicy: cannot register metrics");
  }
}

void MigrationPolicyReconciler::event(const Json& obj, bool warning, const std::string& reason,
                                      const std::string& message) {
  if (deps_.events != nullptr) {
    deps_.events->record(obj, warning ? kube::EventType::kWarning : kube::EventType::kNormal,
                         reason, message);
  }
}

ctrl::ReconcileResult MigrationPolicyReconciler::Reconcile(const std::string& key) {
  kube::ObjectPtr obj = deps_.policies != nullptr ? deps_.policies->get(key) : nullptr;
  if (!obj) return ctrl::Action::AwaitChange();
  if (Deleting(*obj)) return ctrl::Action::AwaitChange();
  Round r;
  r.key = key;
  r.obj = *obj;
  r.base = deps_.fencing_token();
  if (!deps_.may_write(r.base)) {
    spdlog::warn("migrationpolicy {}: fencing token {} may no longer write; skipping", key, r.base);
    return ctrl::Action::AwaitChange();
  }
  auto token = TermToken(r.base, kube::ObjectNamespace(*obj));
  if (!token) return kube::MakeApiError(ErrorKind::kUnavailable, token.error().message);
  r.token = *token;
  r.now = deps_.now();
  auto spec = ParsePolicy(*obj);
  if (!spec) {
    const Json prev = obj->value("status", Json::object());
    Json status = prev.is_object() ? prev : Json::object();
    Json conds = prev.is_object() ? prev.value("conditions", Json::array()) : Json::array();
    const int64_t generation = IntAt(obj->value("metadata", Json::object()), "generation", 0);
    const std::string message = spec.error().message;
    if (InvalidSpecRecorded(prev, message, generation)) return ctrl::Action::AwaitChange();
    event(*obj, true, "InvalidSpec", message);
    status["observedGeneration"] = generation;
    status["conditions"] = BuildConditions(InvalidSpecConditions(message), conds, generation,
                                           planner::FormatRfc3339(r.now));
    Json o = *obj;
    o["status"] = status;
    auto w = deps_.client->UpdateStatus(api::kMigrationPolicies, kube::ObjectNamespace(*obj), o);
    if (!w) return unexpected(w.error());
    return ctrl::Action::AwaitChange();
  }
  r.spec = std::move(spec.value());
  return run(r);
}

void MigrationPolicyReconciler::LoadSet(Round& r, const std::string& name) {
  if (r.sets.count(name)) return;
  SetState& s = r.sets[name];
  s.name = name;
  const std::string& ns = r.spec.ns;
  kube::ObjectPtr obj =
      deps_.shardsets != nullptr ? deps_.shardsets->get(ns + "/" + name) : nullptr;
  if (!obj) return;
  s.exists = true;
  s.obj = *obj;
  auto set = api::ParseShardSet(*obj, api::ShardSetUse::kLoad);
  if (!set) {
    s.problem = set.error().message;
    return;
  }
  s.set = *set;
  s.replicas = set->replicas;
  s.min_replicas = set->min_replicas;
  s.max_replicas = set->max_replicas;
  // Our own request, when we made one, is what the ShardSet controller
  // works towards (api/replica_request.h); spec.replicas otherwise.
  if (auto it = r.requests.find(name); it != r.requests.end()) {
    s.replicas =
        std::clamp(it->second.replicas, s.min_replicas, std::max(s.min_replicas, s.max_replicas));
  }
  s.cm_name = set->config_map;
  s.router_telemetry = set->routers.enabled;  // spec.routers (C2)
  s.router_stats = ParseRouterStats(*obj);
  if (deps_.pods != nullptr) {
    for (const auto& p : deps_.pods->ListLabels(ns, {{api::kLabelShardSet, name}})) {
      auto op = shardset::ObservePod(*p);
      if (!op.live()) continue;
      s.pod_objs[op.name] = *p;
      s.pods.push_back(op);
    }
  }
  kube::ObjectPtr cm = deps_.configmaps != nullptr && !s.cm_name.empty()
                           ? deps_.configmaps->get(ns + "/" + s.cm_name)
                           : nullptr;
  if (cm) {
    s.cm = *cm;
    const Json data = cm->value("data", Json::object());
    if (data.is_object() && data.contains(api::kRoutingKey) && data[api::kRoutingKey].is_string()) {
      auto parsed = shardset::ParseRoutingDocument(data[api::kRoutingKey].get<std::string>());
      if (parsed) {
        s.doc = parsed->raw;
      } else {
        s.problem = "ConfigMap " + s.cm_name + ": " + parsed.error().message;
      }
    }
  }
}

namespace {

using Round = MigrationPolicyReconciler::Round;

// Every policy of the namespace (but those being deleted) with the
// ShardSets its selector picks.
std::vector<PolicyRef> PolicyRefs(const std::vector<kube::ObjectPtr>& pols,
                                  const std::vector<kube::ObjectPtr>& sets) {
  std::vector<PolicyRef> refs;
  for (const auto& p : pols) {
    if (Deleting(*p)) continue;
    PolicyRef ref;
    ref.name = kube::ObjectName(*p);
    ref.created = api::CreationTime(*p);
    // A policy without shardSetSelector selects every ShardSet (the CRD);
    // one with a malformed selector selects none.
    auto selector = api::ShardSetSelectorOf(*p);
    for (const auto& s : sets) {
      if (selector && selector->Matches(util::LabelsOf(*s)))
        ref.selected.push_back(kube::ObjectName(*s));
    }
    refs.push_back(ref);
  }
  return refs;
}

// Reads the current status (actions, history, replica requests, proposal)
// into `r`; returns the messages of the malformed entries it skipped.
std::vector<std::string> ReadStatus(const Json& prev, Round& r) {
  std::vector<std::string> dropped;
  auto read_list = [&](const char* key, std::vector<ActionRecord>& out) {
    if (!prev.is_object() || !prev.contains(key) || !prev[key].is_array()) return;
    for (size_t i = 0; i < prev[key].size(); ++i) {
      auto a = ActionFromJson(prev[key][i],
                              std::string("status.") + key + "[" + std::to_string(i) + "]");
      if (a) {
        out.push_back(*a);
      } else {
        dropped.push_back(a.error().message);
      }
    }
  };
  read_list("actions", r.actions);
  read_list("history", r.history);
  if (prev.is_object() && prev.contains("replicaRequests") && prev["replicaRequests"].is_array()) {
    for (const auto& q : prev["replicaRequests"]) {
      if (!q.is_object() || !q.contains("shardSet") || !q["shardSet"].is_string() ||
          !q.contains("replicas") || !q["replicas"].is_number_integer()) {
        dropped.push_back("status.replicaRequests: entry without shardSet and replicas");
        continue;
      }
      r.requests[q["shardSet"].get<std::string>()] =
          StoredRequest{q["replicas"].get<int>(), q.value("action", std::string()),
                        q.value("requestedAt", std::string())};
    }
  }
  if (prev.is_object() && prev.contains("proposal") && prev["proposal"].is_object())
    r.proposal = prev["proposal"];
  return dropped;
}

// Notes on an approve annotation that approves nothing.
void NoteIgnoredApproval(Round& r) {
  if (r.spec.mode == Mode::kProposal && !r.spec.approve.empty() && r.proposal.is_object() &&
      r.proposal.value("id", std::string()) != r.spec.approve) {
    r.notes.push_back("annotation shardcast.dev/approve names " + r.spec.approve +
                      ", not the current proposal " + r.proposal.value("id", std::string()) +
                      "; nothing approved");
  }
  if (r.spec.mode == Mode::kObserve && !r.spec.approve.empty()) {
    r.notes.push_back("Observe mode ignores the shardcast.dev/approve annotation");
  }
}

}  // namespace

void MigrationPolicyReconciler::PlanWhenIdle(Round& r) {
  if (!r.actions.empty()) {
    r.planned_reason = "Executing";
    return;
  }
  ProposalVerdict v =
      JudgeProposal(r.proposal, r.spec.mode == Mode::kProposal ? r.spec.approve : "", r.now);
  if (r.spec.mode != Mode::kAuto && v == ProposalVerdict::kApproved) {
    auto acts = ActionsFromProposal(r.proposal);
    if (!acts) {
      r.notes.push_back(acts.error().message);
      r.proposal = Json();
    } else {
      std::string id = r.proposal["id"].get<std::string>();
      r.actions = *acts;
      r.proposal = Json();
      r.planned_reason = "Executing";
      event(
          r.obj, false, "PlanApproved",
          "plan " + id + " approved; executing " + std::to_string(r.actions.size()) + " action(s)");
      r.requeue = ms(100);
    }
  } else if (r.spec.mode != Mode::kAuto && v == ProposalVerdict::kPending) {
    r.planned_reason = "ProposalPending";
    int64_t exp =
        planner::ParseRfc3339(r.proposal.value("expiresAt", std::string())).value_or(r.now + 15);
    ms until = ms(std::max<int64_t>(1, exp - r.now + 1) * 1000);
    r.requeue = std::min(until, deps_.idle_requeue);
  } else {
    if (v == ProposalVerdict::kExpired) {
      event(r.obj, false, "ProposalExpired",
            "proposal " + r.proposal.value("id", std::string()) + " expired; re-planning");
    }
    r.proposal = Json();
    plan(r);
    if (!r.actions.empty()) r.requeue = ms(100);
  }
}

void MigrationPolicyReconciler::WarnBlocked(Round& r) {
  std::string blocked;
  for (const auto& b : r.blocked) blocked += (blocked.empty() ? "" : "; ") + b;
  std::lock_guard<std::mutex> lock(mu_);
  if (!blocked.empty() && last_warning_[r.key] != blocked) {
    event(r.obj, true, "ConstraintUnsatisfiable", blocked);
  }
  last_warning_[r.key] = blocked;
}

ctrl::ReconcileResult MigrationPolicyReconciler::run(Round& r) {
  const std::string& ns = r.spec.ns;
  // 1. Selection and conflicts over every policy of the namespace.
  std::vector<kube::ObjectPtr> sets = deps_.shardsets != nullptr
                                          ? deps_.shardsets->ListNamespace(ns)
                                          : std::vector<kube::ObjectPtr>{};
  std::vector<kube::ObjectPtr> pols = deps_.policies != nullptr ? deps_.policies->ListNamespace(ns)
                                                                : std::vector<kube::ObjectPtr>{};
  r.sel = ResolveSelection(r.spec.name, PolicyRefs(pols, sets));

  // 2. Current status.
  const std::vector<std::string> dropped = ReadStatus(r.obj.value("status", Json::object()), r);

  // 3. Execution: one step.
  // C1 requests first (before the policy's own plans), then one external
  // write: an endpoint refresh, or one step of an action.
  AdoptRequests(r);
  if (RefreshDocumentEndpoints(r)) {
    r.requeue = ms(200);
  } else {
    r.requeue = StepActions(r);
  }

  // 4. Planning, when nothing is in flight.
  PlanWhenIdle(r);
  NoteIgnoredApproval(r);
  for (const auto& d : dropped) r.notes.push_back("ignored malformed entry: " + d);

  // 5. Impossible constraints: a condition and (once per message) a Warning.
  WarnBlocked(r);

  // 6. Declared events maxReplicas cannot cover, refused flaps (notices.h).
  auto seen = notices_.Observe(r.key, r.findings, r.spec.planner.cooldown_seconds, r.now);
  for (const auto& n : seen.events) event(r.obj, n.warning, n.reason, n.message);
  r.new_flaps = seen.new_flaps;

  auto st = WriteStatus(r);
  if (!st) return unexpected(st.error());
  if (!r.actions.empty()) return ctrl::Action::RequeueAfter(r.requeue.value_or(ms(1000)));
  return ctrl::Action::RequeueAfter(r.requeue.value_or(deps_.idle_requeue));
}

kube::ApiStatus MigrationPolicyReconciler::WriteStatus(Round& r) {
  const Json prev = r.obj.value("status", Json::object());
  Json status = prev.is_object() ? prev : Json::object();
  status["observedGeneration"] = r.spec.generation;
  status["selectedShardSets"] = r.sel.governed;
  Json conflicts = Json::array();
  std::string conflict_msg;
  for (const auto& c : r.sel.conflicts) {
    conflicts.push_back(
        {{"shardSet", c.shard_set}, {"policies", c.policies}, {"chosen", c.chosen}});
    std::string others;
    for (const auto& p : c.policies) others += (others.empty() ? "" : ", ") + p;
    conflict_msg += (conflict_msg.empty() ? "" : "; ") + std::string("ShardSet ") + c.shard_set +
                    " is selected by policies " + others + "; " + c.chosen +
                    " governs it (oldest, then name)";
  }
  status["conflicts"] = conflicts;
  if (r.proposal.is_null()) {
    status.erase("proposal");
  } else {
    status["proposal"] = r.proposal;
  }
  Json actions = Json::array();
  for (const auto& a : r.actions) actions.push_back(ActionToJson(a));
  Json history = Json::array();
  for (const auto& a : r.history) history.push_back(ActionToJson(a));
  status["actions"] = actions;
  status["history"] = history;
  // Requests only for the sets this policy still governs: a set it lost
  // (to an older policy, or a label change) falls back to its own spec.
  Json requests = Json::array();
  for (const auto& [set, q] : r.requests) {
    if (std::find(r.sel.governed.begin(), r.sel.governed.end(), set) == r.sel.governed.end())
      continue;
    Json e = {{"shardSet", set}, {"replicas", q.replicas}};
    if (!q.action.empty()) e["action"] = q.action;
    if (!q.requested_at.empty()) e["requestedAt"] = q.requested_at;
    requests.push_back(e);
  }
  if (requests.empty()) {
    status.erase("replicaRequests");
  } else {
    status["replicaRequests"] = requests;
  }
  std::string governs;
  for (const auto& g : r.sel.governed) governs += (governs.empty() ? "" : ", ") + g;
  std::string notes;
  for (const auto& n : r.notes) notes += (notes.empty() ? "" : "; ") + n;
  std::string blocked;
  for (const auto& b : r.blocked) blocked += (blocked.empty() ? "" : "; ") + b;
  std::vector<Condition> conds;
  conds.push_back({"Ready", "True", "Applied",
                   std::string("mode ") + ModeName(r.spec.mode) + "; governs " +
                       (governs.empty() ? "no ShardSet" : governs)});
  conds.push_back({"Conflict", r.sel.conflicts.empty() ? "False" : "True",
                   r.sel.conflicts.empty() ? "NoConflict" : "ShardSetSelectedByMultiplePolicies",
                   conflict_msg});
  conds.push_back({"Blocked", blocked.empty() ? "False" : "True",
                   blocked.empty() ? "NotBlocked" : "ConstraintUnsatisfiable", blocked});
  bool active = r.planned_reason == "Executing" || r.planned_reason == "ProposalPending";
  conds.push_back({"Planned", active ? "True" : "False", r.planned_reason, notes});
  const Json prev_conds =
      prev.is_object() ? prev.value("conditions", Json::array()) : Json::array();
  conds.push_back(CapacityShortCondition(r.findings, r.planned, prev_conds));
  AddKstatusConditions(conds, r.spec, r.sel);
  status["conditions"] =
      BuildConditions(conds, prev_conds, r.spec.generation, planner::FormatRfc3339(r.now));
  if (r.new_flaps > 0 || status.contains("flapsRefused"))
    status["flapsRefused"] = FlapsRefusedOf(prev) + r.new_flaps;
  status["fencingToken"] = r.token;
  if (status == prev) return {};
  // A status written under a larger token is a newer leader's: never overwrite it.
  if (api::StatusFencingTokenOf(r.obj) > r.token) {
    return kube::MakeApiError(ErrorKind::kForbidden,
                              "status carries fencing token " +
                                  std::to_string(api::StatusFencingTokenOf(r.obj)) + " > ours " +
                                  std::to_string(r.token) + "; refusing to write");
  }
  if (!deps_.may_write(r.base))
    return kube::MakeApiError(ErrorKind::kForbidden, "fencing token no longer valid");
  Json obj = r.obj;
  obj["status"] = status;
  auto w = deps_.client->UpdateStatus(api::kMigrationPolicies, r.spec.ns, obj);
  if (!w) return unexpected(w.error());
  return {};
}

void WireHandlers(kube::Informer& policies, kube::Informer& sets, kube::Informer& pods,
                  kube::Informer& cms, ctrl::Controller& c) {
  auto own = [&c](const kube::ObjectPtr& o) {
    if (o) c.enqueue(kube::ObjectKey(*o));
  };
  policies.AddHandlers(
      {own, [own](const kube::ObjectPtr&, const kube::ObjectPtr& n) { own(n); }, own});
  const kube::Store* store = &policies.store();
  auto all_in_ns = [&c, store](const kube::ObjectPtr& o) {
    if (!o) return;
    for (const auto& p : store->ListNamespace(kube::ObjectNamespace(*o)))
      c.enqueue(kube::ObjectKey(*p));
  };
  kube::EventHandlers h{
      all_in_ns, [all_in_ns](const kube::ObjectPtr&, const kube::ObjectPtr& n) { all_in_ns(n); },
      all_in_ns};
  sets.AddHandlers(h);
  pods.AddHandlers(h);
  cms.AddHandlers(h);
}

}  // namespace shardcast::migrationpolicy
