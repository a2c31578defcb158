#include "controllers/shardset/reconciler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>
#include <set>

#include "controllers/api/replica_request.h"
#include "controllers/api/resources.h"
#include "controllers/shardset/kstatus.h"
#include "controllers/shardset/round.h"

namespace shardcast::shardset {
namespace {

using kube::ErrorKind;

int64_t StatusEpoch(const Json& set_obj) {
  const Json st = set_obj.value("status", Json::object());
  return st.is_object() && st.contains("epoch") && st["epoch"].is_number_integer()
             ? st["epoch"].get<int64_t>()
             : 0;
}

// The MigrationPolicy of `ns` whose status.selectedShardSets lists `set`
// (the oldest when several do), "" when none.
std::string GoverningPolicy(const kube::Store* policies, const std::string& ns,
                            const std::string& set) {
  if (policies == nullptr) return {};
  std::string best, best_key;
  for (const auto& p : policies->ListNamespace(ns)) {
    if (!p || !p->contains("status") || !(*p)["status"].is_object()) continue;
    const Json& st = (*p)["status"];
    if (!st.contains("selectedShardSets") || !st["selectedShardSets"].is_array()) continue;
    bool selects = false;
    for (const auto& n : st["selectedShardSets"]) selects = selects || n == set;
    if (!selects) continue;
    const Json md = p->value("metadata", Json::object());
    std::string key = (md.is_object() ? md.value("creationTimestamp", std::string()) : "") + "/" +
                      kube::ObjectName(*p);
    if (best.empty() || key < best_key) {
      best = kube::ObjectName(*p);
      best_key = key;
    }
  }
  return best;
}

const Json* PreviousCondition(const Json& set_obj, const std::string& type) {
  const Json* st = set_obj.contains("status") ? &set_obj["status"] : nullptr;
  if (st == nullptr || !st->is_object() || !st->contains("conditions") ||
      !(*st)["conditions"].is_array()) {
    return nullptr;
  }
  for (const auto& c : (*st)["conditions"]) {
    if (c.is_object() && c.value("type", Json()) == type) return &c;
  }
  return nullptr;
}

}  // namespace

std::string ControllerUid(const Json& obj) {
  if (!obj.is_object()) return {};
  const Json md = obj.value("metadata", Json::object());
  if (!md.is_object() || !md.contains("ownerReferences") || !md["ownerReferences"].is_array()) {
    return {};
  }
  for (const auto& o : md["ownerReferences"]) {
    if (o.is_object() && o.value("controller", false) == true && o.contains("uid") &&
        o["uid"].is_string()) {
      return o["uid"].get<std::string>();
    }
  }
  return {};
}

ShardSetReconciler::ShardSetReconciler(ReconcilerDeps deps) : deps_(std::move(deps)) {
  if (!deps_.fencing_token) deps_.fencing_token = [] { return uint64_t{1}; };
  if (!deps_.may_write) deps_.may_write = [](uint64_t) { return true; };
  if (!deps_.now) deps_.now = [] { return kube::NowRfc3339(); };
  if (deps_.metrics != nullptr) {
    auto e = deps_.metrics->gauge("shardcast_routing_epoch",
                                  "Epoch of the published routing document.", {"shardset"});
    if (e) epoch_gauge_ = *e;
    auto p = deps_.metrics->counter("shardcast_promotions_total", "Warm pods promoted to active.",
                                    {"shardset"});
    if (p) promotions_ = *p;
    auto g =
        deps_.metrics->gauge("shardcast_pods", "Pods of a ShardSet by role.", {"shardset", "role"});
    if (g) pods_gauge_ = *g;
    if (!e || !p || !g) spdlog::error("shardset: cannot register metrics");
  }
}

void ShardSetReconciler::event(const Json& obj, kube::EventType type, const std::string& reason,
                               const std::string& message) {
  if (deps_.events != nullptr) deps_.events->record(obj, type, reason, message);
}

ctrl::ReconcileResult ShardSetReconciler::Reconcile(const std::string& key) {
  kube::ObjectPtr obj = deps_.shardsets != nullptr ? deps_.shardsets->get(key) : nullptr;
  if (!obj) {
    if (deps_.metrics != nullptr) deps_.metrics->RemoveMatching({{"shardset", key}});
    return ctrl::Action::AwaitChange();
  }
  const Json md = obj->value("metadata", Json::object());
  if (md.is_object() && md.contains("deletionTimestamp") && !md["deletionTimestamp"].is_null()) {
    last_good_.forget(md.value("uid", std::string()));
    return ctrl::Action::AwaitChange();  // garbage collection removes the owned objects
  }
  Round round;
  round.key = key;
  round.set_obj = *obj;
  round.token = deps_.fencing_token();
  if (!deps_.may_write(round.token)) {
    spdlog::warn("shardset {}: fencing token {} may no longer write; skipping", key, round.token);
    return ctrl::Action::AwaitChange();
  }
  auto spec = ParseShardSet(*obj);
  if (!spec) return ReconcileInvalidSpec(round, spec.error().message);
  round.spec = std::move(spec.value());
  if (deps_.policies != nullptr) {
    auto req =
        api::ReplicaRequestFor(deps_.policies->ListNamespace(round.spec.ns), round.spec.name);
    if (req) {
      round.spec.replicas =
          std::clamp(req->replicas, round.spec.min_replicas, round.spec.max_replicas);
      round.replicas_from = "MigrationPolicy/" + req->policy;
    }
  }
  round.policy = GoverningPolicy(deps_.policies, round.spec.ns, round.spec.name);
  return execute(round);
}

ctrl::ReconcileResult ShardSetReconciler::ReconcileInvalidSpec(Round& round,
                                                               const std::string& error) {
  // Keep what we can name for the status; no other writes.
  const Json& obj = round.set_obj;
  const Json md = obj.value("metadata", Json::object());
  round.spec.name = kube::ObjectName(obj);
  round.spec.ns = kube::ObjectNamespace(obj);
  if (md.is_object() && md.contains("generation") && md["generation"].is_number_integer()) {
    round.spec.generation = md["generation"].get<int64_t>();
  }
  round.problem = error;
  round.problem_reason = "InvalidSpec";
  round.epoch = StatusEpoch(obj);
  // Observe pods anyway so that status counts stay honest.
  if (deps_.pods != nullptr) {
    for (const auto& p :
         deps_.pods->ListLabels(round.spec.ns, {{api::kLabelShardSet, round.spec.name}})) {
      round.obs.pods.push_back(ObservePod(*p));
    }
  }
  // Requests stay as published: nothing about ownership is known this round.
  const Json st = obj.value("status", Json::object());
  if (st.is_object() && st.contains("ownershipRequests") && st["ownershipRequests"].is_array()) {
    for (const auto& e : st["ownershipRequests"]) {
      if (!e.is_object() || !e.contains("range") || !e["range"].is_number_integer() ||
          e["range"].get<int64_t>() < 0)
        continue;
      round.requests.push_back({e["range"].get<uint32_t>(), e.value("owner", std::string()),
                                e.value("reason", std::string()), e.value("since", std::string())});
    }
  }
  const Json* prev = PreviousCondition(obj, "Degraded");
  bool was_degraded = prev != nullptr && prev->value("status", Json()) == "True" &&
                      prev->value("message", Json()) == round.problem;
  if (!was_degraded) event(obj, kube::EventType::kWarning, "InvalidSpec", round.problem);
  auto st_write = WriteStatus(round);
  if (!st_write) return unexpected(st_write.error());
  return ctrl::Action::AwaitChange();
}

kube::ApiStatus ShardSetReconciler::observe(Round& round) {
  const ShardSetSpec& s = round.spec;
  if (deps_.pods != nullptr) {
    for (const auto& p : deps_.pods->ListLabels(s.ns, {{api::kLabelShardSet, s.name}})) {
      round.obs.occupied_names.insert(kube::ObjectName(*p));
      if (ControllerUid(*p) == s.uid) round.obs.pods.push_back(ObservePod(*p));
    }
  }
  if (deps_.policies != nullptr) {
    for (const auto& p : deps_.policies->ListNamespace(s.ns)) {
      if (!p) continue;
      AddHeldPods(*p, s.name, round.obs.held);
      if (kube::ObjectName(*p) != round.policy) continue;
      AddPromotions(*p, s.name, round.obs.promote_first);
      AddScaleIns(*p, s.name, round.obs.scale_in_first);
    }
  }
  ObserveRouting(round);
  return ObserveClaims(round);
}

// The routing ConfigMap and the last good copy: a valid document is the
// observation; an invalid one (or one missing after a document was
// published) leaves the last good copy in its place and marks it invalid.
void ShardSetReconciler::ObserveRouting(Round& round) {
  const ShardSetSpec& s = round.spec;
  auto cached = [&](const std::string& name) {
    return deps_.configmaps != nullptr ? deps_.configmaps->get(s.ns + "/" + name) : nullptr;
  };
  if (kube::ObjectPtr lg = cached(LastGoodName(s.config_map))) {
    round.last_good_cm = *lg;
    if (auto durable = LastGoodIn(*lg, s.uid)) round.last_good = durable;
  }
  if (auto mem = last_good_.get(s.uid);
      mem && (!round.last_good || mem->epoch > round.last_good->epoch)) {
    round.last_good = mem;
  }
  std::string error;
  bool has_document = false;
  if (kube::ObjectPtr cm = cached(s.config_map)) {
    round.cm = *cm;
    std::string owner = ControllerUid(*cm);
    if (!owner.empty() && owner != s.uid) {
      round.problem = "spec.routing.configMapName: ConfigMap " + s.config_map +
                      " is controlled by another object; refusing to write it";
      round.problem_reason = "RoutingConfigMapConflict";
    }
    const Json data = cm->value("data", Json::object());
    if (data.is_object() && data.contains(api::kRoutingKey)) {
      has_document = true;
      auto doc = data[api::kRoutingKey].is_string()
                     ? ParseRoutingDocument(data[api::kRoutingKey].get<std::string>())
                     : Result<RoutingDocument>(unexpected(Error{"routing.json: must be a string"}));
      if (doc) {
        round.obs.routing = std::move(doc.value());
        return;
      }
      error = doc.error().message;
    }
  }
  bool published_before = round.last_good.has_value() || StatusEpoch(round.set_obj) > 0;
  if (has_document || published_before) {
    round.obs.routing_invalid = true;
    if (round.last_good) {
      auto doc = ParseRoutingDocument(round.last_good->text);
      if (doc) round.obs.routing = std::move(doc.value());
    }
    if (round.problem.empty()) {
      round.problem = InvalidRoutingMessage(s, error, round.last_good);
      round.problem_reason = has_document ? "RoutingDocumentInvalid" : "RoutingDocumentMissing";
    }
  }
}

// The claims of every owner without a live pod (only then: a set at rest
// makes no such reads). An owner whose claims all exist comes back; one
// without them is gone.
kube::ApiStatus ShardSetReconciler::ObserveClaims(Round& round) {
  const ShardSetSpec& s = round.spec;
  if (!round.obs.routing || round.obs.routing_invalid || s.volume_claim_templates.empty()) {
    return {};
  }
  std::set<std::string> live;
  for (const auto& p : round.obs.pods) {
    if (p.live()) live.insert(p.name);
  }
  std::set<std::string> owners;
  for (const auto& r : round.obs.routing->ranges) {
    if (!live.count(r.owner)) owners.insert(r.owner);
  }
  for (const auto& owner : owners) {
    for (const auto& claim : ClaimNames(s, owner)) {
      auto r = deps_.client->get(kube::resources::kPersistentVolumeClaims, s.ns, claim);
      if (r) {
        const Json md = r->value("metadata", Json::object());
        bool deleting = md.is_object() && md.contains("deletionTimestamp") &&
                        !md["deletionTimestamp"].is_null();
        if (!deleting) round.obs.claims.insert(claim);
      } else if (r.error().kind != ErrorKind::kNotFound) {
        return unexpected(r.error());
      }
    }
  }
  return {};
}

ctrl::ReconcileResult ShardSetReconciler::execute(Round& round) {
  const ShardSetSpec& s = round.spec;
  auto observed = observe(round);
  if (!observed) return unexpected(observed.error());
  round.desired = ComputeDesired(s, round.obs);
  Desired& d = round.desired;
  if (!d.problem.empty() && round.problem.empty()) {
    round.problem = d.problem;
    round.problem_reason = "PlacementFailed";
  }
  round.published = round.obs.routing;
  round.epoch =
      std::max(StatusEpoch(round.set_obj), round.obs.routing ? round.obs.routing->epoch : 0);
  if (round.problem_reason == "RoutingConfigMapConflict") d.kind = StepKind::kNone;

  bool failed_step = false;
  kube::ApiStatus step = {};
  switch (d.kind) {
    case StepKind::kNone:
      break;
    case StepKind::kPromote:
      step = promote(round);
      break;
    case StepKind::kCreateRouting:
      step = CreateRouting(round);
      if (!step && step.error().kind != ErrorKind::kConflict) {
        failed_step = true;  // a conflict only means the cache is behind: retry at once
        event(round.set_obj, kube::EventType::kWarning, "RoutingWriteFailed",
              "ConfigMap " + s.config_map + ": " + step.error().to_string());
      }
      break;
    case StepKind::kDeletePods:
      step = DeletePods(round);
      break;
    case StepKind::kCreatePods:
      step = CreatePods(round, failed_step);
      break;
  }
  SaveLastGood(round);
  ReportRequests(round);
  set_metrics(round.key, round);
  if (!step && !failed_step) return unexpected(step.error());
  if (failed_step && round.problem.empty()) {
    round.problem =
        "routing: writing ConfigMap " + s.config_map + " failed: " + step.error().to_string();
    round.problem_reason = "RoutingWriteFailed";
  }
  auto st = WriteStatus(round);
  if (!step) return unexpected(step.error());
  if (!st) return unexpected(st.error());
  if (d.kind != StepKind::kNone) return ctrl::Action::RequeueAfter(deps_.step_requeue);
  if (d.waiting) return ctrl::Action::RequeueAfter(deps_.wait_requeue);
  return ctrl::Action::AwaitChange();
}

// Durable copy of a valid document with a higher epoch than the last good
// one. A failed write is retried next round (the document is still newer).
void ShardSetReconciler::SaveLastGood(Round& round) {
  const ShardSetSpec& s = round.spec;
  if (!round.published || round.obs.routing_invalid) return;
  if (round.last_good && round.last_good->epoch >= round.published->epoch) return;
  LastGood good{round.published->epoch, round.published->raw.dump()};
  if (round.cm.is_object()) {
    const Json data = round.cm.value("data", Json::object());
    if (data.is_object() && data.contains(api::kRoutingKey) && data[api::kRoutingKey].is_string() &&
        round.obs.routing && round.obs.routing->epoch == good.epoch) {
      good.text = data[api::kRoutingKey].get<std::string>();  // byte for byte as published
    }
  }
  last_good_.put(s.uid, good);
  round.last_good = good;
  if (!deps_.may_write(round.token)) return;
  const Json existing =
      LastGoodIn(round.last_good_cm, s.uid) || ControllerUid(round.last_good_cm).empty()
          ? round.last_good_cm
          : Json();
  if (round.last_good_cm.is_object() && existing.is_null()) {
    spdlog::warn(
        "shardset {}: ConfigMap {} belongs to another object; the last good routing "
        "document is kept in memory only",
        round.key, LastGoodName(s.config_map));
    return;
  }
  Json cm = BuildLastGoodConfigMap(s, good, existing);
  ++writes_;
  auto r = existing.is_object() ? deps_.client->update(kube::resources::kConfigMaps, s.ns, cm)
                                : deps_.client->create(kube::resources::kConfigMaps, s.ns, cm);
  if (!r) {
    spdlog::warn("shardset {}: saving the last good routing document (epoch {}) in {}: {}",
                 round.key, good.epoch, LastGoodName(s.config_map), r.error().to_string());
    return;
  }
  round.last_good_cm = *r;
}

// Ownership requests as published: `since` carried over, and a Warning
// Event RangeDataLost when the set of lost ranges changes.
void ShardSetReconciler::ReportRequests(Round& round) {
  round.requests = round.desired.requests;
  if (round.obs.routing_invalid) {
    round.requests.clear();  // nothing is requested while the document is invalid
  }
  const Json st = round.set_obj.value("status", Json::object());
  CarrySince(round.requests,
             st.is_object() ? st.value("ownershipRequests", Json::array()) : Json::array(),
             deps_.now());
  std::string lost = LostRangesText(round.requests);
  if (lost.empty()) return;
  const Json* prev = PreviousCondition(round.set_obj, "DataLost");
  std::string message = DataLostMessage(round.requests, round.policy);
  if (prev != nullptr && prev->value("status", Json()) == "True" &&
      prev->value("message", Json()) == message) {
    return;
  }
  event(round.set_obj, kube::EventType::kWarning, "RangeDataLost", message);
}

std::vector<Condition> ShardSetReconciler::conditions(const Round& round) const {
  const ShardSetSpec& s = round.spec;
  const Desired& d = round.desired;
  std::vector<Condition> out;
  bool degraded = !round.problem.empty();
  out.push_back({"Degraded", degraded ? "True" : "False",
                 degraded ? round.problem_reason : "AsExpected", degraded ? round.problem : ""});
  std::string requested = RequestsMessage(round.requests, round.policy);
  bool progressing = d.kind != StepKind::kNone || d.waiting || !requested.empty();
  std::string preason = "Converged";
  switch (d.kind) {
    case StepKind::kPromote:
      preason = "Promoting";
      break;
    case StepKind::kCreateRouting:
      preason = "PublishingRouting";
      break;
    case StepKind::kDeletePods:
      preason = "DeletingPods";
      break;
    case StepKind::kCreatePods:
      preason = "CreatingPods";
      break;
    case StepKind::kNone:
      preason = !requested.empty()
                    ? (round.policy.empty() ? "WaitingForMigrationPolicy" : "RangesRequested")
                : d.waiting ? "WaitingForPods"
                            : "Converged";
      break;
  }
  std::string pmessage = d.summary;
  if (!requested.empty()) pmessage += (pmessage.empty() ? "" : "; ") + requested;
  out.push_back(
      {"Progressing", progressing ? "True" : "False", preason, progressing ? pmessage : ""});
  // Ready: every range is owned by a Ready active pod and spec.replicas
  // active pods are Ready.
  int active_ready = 0;
  std::set<std::string> ready_active;
  for (const auto& p : round.obs.pods) {
    if (p.live() && p.role == api::kRoleActive && p.ready) {
      ++active_ready;
      ready_active.insert(p.name);
    }
  }
  bool owners_ok = round.published.has_value() && !round.published->ranges.empty();
  if (owners_ok) {
    for (const auto& r : round.published->ranges) {
      if (!ready_active.count(r.owner)) owners_ok = false;
    }
  }
  bool ready = !degraded && owners_ok && active_ready >= s.replicas;
  out.push_back({"Ready", ready ? "True" : "False", ready ? "AllRangesServed" : "NotReady",
                 std::to_string(active_ready) + "/" + std::to_string(s.replicas) +
                     " active pods ready" +
                     (owners_ok         ? "; every range has a ready owner"
                      : round.published ? "; some ranges have no ready owner"
                                        : "; no routing document yet")});
  std::string lost = DataLostMessage(round.requests, round.policy);
  out.push_back({"DataLost", lost.empty() ? "False" : "True",
                 lost.empty() ? "NoDataLost" : kReasonOwnerGone, lost});
  AddKstatusConditions(out);
  return out;
}

kube::ApiStatus ShardSetReconciler::WriteStatus(Round& round) {
  const ShardSetSpec& s = round.spec;
  StatusInput in;
  in.observed_generation = s.generation;
  in.selector = std::string(api::kLabelShardSet) + "=" + s.name;
  in.pods = round.obs.pods;
  in.epoch = round.epoch;
  in.desired_replicas = s.replicas;
  in.desired_from = round.replicas_from;
  if (round.published) {
    for (const auto& r : round.published->ranges) ++in.ranges_per_pod[r.owner];
  }
  in.conditions = conditions(round);
  in.ownership_requests = round.requests;
  const Json prev = round.set_obj.value("status", Json::object());
  Json status = BuildStatus(in, prev, deps_.now());
  if (status == prev) return {};
  Json obj = round.set_obj;
  obj["status"] = status;
  ++writes_;
  auto r = deps_.client->UpdateStatus(api::kShardSets, s.ns, obj);
  if (!r) return unexpected(r.error());
  return {};
}

void ShardSetReconciler::set_metrics(const std::string& key, const Round& round) {
  if (pods_gauge_ != nullptr) {
    int active = 0, warm = 0;
    for (const auto& p : round.obs.pods) {
      if (!p.live()) continue;
      (p.role == api::kRoleActive ? active : warm)++;
    }
    pods_gauge_->with({{"shardset", key}, {"role", "active"}})->set(active);
    pods_gauge_->with({{"shardset", key}, {"role", "warm"}})->set(warm);
  }
  if (epoch_gauge_ != nullptr && round.published) {
    epoch_gauge_->with({{"shardset", key}})->set(double(round.published->epoch));
  }
}

std::string OwningShardSetKey(const Json& obj) {
  if (!obj.is_object() || !obj.contains("metadata") || !obj["metadata"].is_object()) return {};
  const auto& md = obj["metadata"];
  std::string ns = md.value("namespace", std::string());
  if (md.contains("labels") && md["labels"].is_object() &&
      md["labels"].contains(api::kLabelShardSet) && md["labels"][api::kLabelShardSet].is_string()) {
    return ns + "/" + md["labels"][api::kLabelShardSet].get<std::string>();
  }
  if (md.contains("ownerReferences") && md["ownerReferences"].is_array()) {
    for (const auto& o : md["ownerReferences"]) {
      if (o.is_object() && o.value("kind", std::string()) == "ShardSet" &&
          o.value("controller", false) && o.contains("name") && o["name"].is_string()) {
        return ns + "/" + o["name"].get<std::string>();
      }
    }
  }
  return {};
}

void WireHandlers(kube::Informer& sets, kube::Informer& pods, kube::Informer& cms,
                  ctrl::Controller& c, kube::Informer* policies) {
  auto own = [&c](const kube::ObjectPtr& o) {
    if (o) c.enqueue(kube::ObjectKey(*o));
  };
  sets.AddHandlers({own, [own](const kube::ObjectPtr&, const kube::ObjectPtr& n) { own(n); }, own});
  auto owner = [&c](const kube::ObjectPtr& o) {
    if (!o) return;
    std::string key = OwningShardSetKey(*o);
    if (!key.empty()) c.enqueue(key);
  };
  kube::EventHandlers by_owner{
      owner,
      [owner](const kube::ObjectPtr& old_obj, const kube::ObjectPtr& new_obj) {
        owner(old_obj);
        owner(new_obj);
      },
      owner};
  pods.AddHandlers(by_owner);
  cms.AddHandlers(by_owner);
  if (policies == nullptr) return;
  // A policy's status changes often (action progress); only a change of its
  // replica requests, of the sets it governs or of the pods its unfinished
  // actions name concerns the ShardSets.
  auto named = [](const kube::ObjectPtr& o) {
    std::set<std::string> out;
    if (!o || !o->contains("status") || !(*o)["status"].is_object()) return out;
    const Json& st = (*o)["status"];
    if (st.contains("selectedShardSets") && st["selectedShardSets"].is_array()) {
      for (const auto& n : st["selectedShardSets"]) {
        if (n.is_string()) out.insert(n.get<std::string>());
      }
    }
    for (const char* list : {"replicaRequests", "actions"}) {
      if (!st.contains(list) || !st[list].is_array()) continue;
      for (const auto& r : st[list]) {
        if (r.is_object() && r.contains("shardSet") && r["shardSet"].is_string()) {
          out.insert(r["shardSet"].get<std::string>());
        }
      }
    }
    return out;
  };
  auto requests = [](const kube::ObjectPtr& o) {
    if (!o || !o->contains("status") || !(*o)["status"].is_object()) return Json();
    const Json& st = (*o)["status"];
    std::set<std::string> sets;
    if (st.contains("actions") && st["actions"].is_array()) {
      for (const auto& a : st["actions"]) {
        if (a.is_object() && a.contains("shardSet") && a["shardSet"].is_string()) {
          sets.insert(a["shardSet"].get<std::string>());
        }
      }
    }
    Json held = Json::object();  // set -> pods its unfinished actions name
    for (const auto& set : sets) {
      std::map<std::string, std::string> pods;
      AddHeldPods(*o, set, pods);
      held[set] = pods;
    }
    return Json{st.value("selectedShardSets", Json()), st.value("replicaRequests", Json()), held};
  };
  auto enqueue = [&c, named](const kube::ObjectPtr& o) {
    if (!o) return;
    std::string ns = kube::ObjectNamespace(*o);
    for (const auto& n : named(o)) c.enqueue(ns + "/" + n);
  };
  policies->AddHandlers(
      {enqueue,
       [enqueue, requests](const kube::ObjectPtr& old_obj, const kube::ObjectPtr& new_obj) {
         if (requests(old_obj) == requests(new_obj)) return;
         enqueue(old_obj);
         enqueue(new_obj);
       },
       enqueue});
}

}  // namespace shardcast::shardset
