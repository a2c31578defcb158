#include "controllers/shardset/reconciler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <set>

#include "controllers/api/fencing.h"
#include "controllers/api/replica_request.h"
#include "controllers/api/resources.h"
#include "controllers/shardset/kstatus.h"

namespace shardcast::shardset {
namespace {

using kube::ErrorKind;

std::string ControllerUid(const Json& obj) {
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

bool Ignorable(const kube::ApiError& e, ErrorKind k) { return e.kind == k; }

}  // namespace

struct ShardSetReconciler::Round {
  std::string key;
  Json set_obj;
  ShardSetSpec spec;
  Observation obs;
  Desired desired;
  Json cm;  // the routing ConfigMap as cached (null when absent)
  bool routing_corrupt = false;
  std::string problem;  // Degraded message
  std::string problem_reason;
  uint64_t token = 1;
  std::string replicas_from = "spec";        // or "MigrationPolicy/<name>"
  int64_t epoch = 0;                         // epoch after this round
  std::optional<RoutingDocument> published;  // document after this round
};

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

ctrl::ReconcileResult ShardSetReconciler::reconcile(const std::string& key) {
  kube::ObjectPtr obj = deps_.shardsets != nullptr ? deps_.shardsets->get(key) : nullptr;
  if (!obj) {
    if (deps_.metrics != nullptr) deps_.metrics->remove_matching({{"shardset", key}});
    return ctrl::Action::AwaitChange();
  }
  const Json md = obj->value("metadata", Json::object());
  if (md.is_object() && md.contains("deletionTimestamp") && !md["deletionTimestamp"].is_null()) {
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
  if (!spec) {
    // Keep what we can name for the status; no other writes.
    round.spec.name = kube::ObjectName(*obj);
    round.spec.ns = kube::ObjectNamespace(*obj);
    if (md.is_object() && md.contains("generation") && md["generation"].is_number_integer()) {
      round.spec.generation = md["generation"].get<int64_t>();
    }
    round.problem = spec.error().message;
    round.problem_reason = "InvalidSpec";
    const Json prev = obj->value("status", Json::object());
    round.epoch = prev.is_object() && prev.contains("epoch") && prev["epoch"].is_number_integer()
                      ? prev["epoch"].get<int64_t>()
                      : 0;
    // Observe pods anyway so that status counts stay honest.
    if (deps_.pods != nullptr) {
      for (const auto& p :
           deps_.pods->list_labels(round.spec.ns, {{api::kLabelShardSet, round.spec.name}})) {
        round.obs.pods.push_back(ObservePod(*p));
      }
    }
    bool was_degraded = false;
    if (prev.is_object() && prev.contains("conditions") && prev["conditions"].is_array()) {
      for (const auto& c : prev["conditions"]) {
        if (c.is_object() && c.value("type", Json()) == "Degraded" &&
            c.value("status", Json()) == "True" && c.value("message", Json()) == round.problem) {
          was_degraded = true;
        }
      }
    }
    if (!was_degraded) event(*obj, kube::EventType::kWarning, "InvalidSpec", round.problem);
    auto st = write_status(round);
    if (!st) return unexpected(st.error());
    return ctrl::Action::AwaitChange();
  }
  round.spec = std::move(spec.value());
  if (deps_.policies != nullptr) {
    auto req =
        api::ReplicaRequestFor(deps_.policies->list_namespace(round.spec.ns), round.spec.name);
    if (req) {
      round.spec.replicas =
          std::clamp(req->replicas, round.spec.min_replicas, round.spec.max_replicas);
      round.replicas_from = "MigrationPolicy/" + req->policy;
      round.spec.policy_fills_joiners = true;
    }
  }
  return execute(round);
}

ctrl::ReconcileResult ShardSetReconciler::execute(Round& round) {
  const ShardSetSpec& s = round.spec;
  // Observe.
  if (deps_.pods != nullptr) {
    for (const auto& p : deps_.pods->list_labels(s.ns, {{api::kLabelShardSet, s.name}})) {
      round.obs.occupied_names.insert(kube::ObjectName(*p));
      if (ControllerUid(*p) == s.uid) round.obs.pods.push_back(ObservePod(*p));
    }
  }
  kube::ObjectPtr cm =
      deps_.configmaps != nullptr ? deps_.configmaps->get(s.ns + "/" + s.config_map) : nullptr;
  const Json prev_status = round.set_obj.value("status", Json::object());
  int64_t status_epoch = prev_status.is_object() && prev_status.contains("epoch") &&
                                 prev_status["epoch"].is_number_integer()
                             ? prev_status["epoch"].get<int64_t>()
                             : 0;
  if (cm) {
    round.cm = *cm;
    std::string owner = ControllerUid(*cm);
    if (!owner.empty() && owner != s.uid) {
      round.problem = "spec.routing.configMapName: ConfigMap " + s.config_map +
                      " is controlled by another object; refusing to write it";
      round.problem_reason = "RoutingConfigMapConflict";
    }
    const Json data = cm->value("data", Json::object());
    if (data.is_object() && data.contains(api::kRoutingKey) && data[api::kRoutingKey].is_string()) {
      auto doc = ParseRoutingDocument(data[api::kRoutingKey].get<std::string>());
      if (doc) {
        round.obs.routing = std::move(doc.value());
      } else {
        round.routing_corrupt = true;
        round.problem =
            "ConfigMap " + s.config_map + " " + doc.error().message + "; it will be rewritten";
        round.problem_reason = "RoutingDocumentInvalid";
      }
    }
  }
  round.desired = ComputeDesired(s, round.obs);
  Desired& d = round.desired;
  if (!d.problem.empty() && round.problem.empty()) {
    round.problem = d.problem;
    round.problem_reason = "PlacementFailed";
  }
  round.published = round.obs.routing;
  round.epoch = std::max(status_epoch, round.obs.routing ? round.obs.routing->epoch : 0);
  if (round.problem_reason == "RoutingConfigMapConflict") d.kind = StepKind::kNone;

  bool failed_step = false;
  std::optional<kube::ApiError> step_error;
  switch (d.kind) {
    case StepKind::kNone:
      break;
    case StepKind::kPromote: {
      for (const auto& name : d.promote) {
        std::string rv;
        for (const auto& p : round.obs.pods) {
          if (p.name == name) rv = p.resource_version;
        }
        Json body = {
            {"metadata",
             {{"resourceVersion", rv}, {"labels", {{api::kLabelRole, api::kRoleActive}}}}}};
        auto r = deps_.client->patch(kube::resources::kPods, s.ns, name, kube::PatchType::kMerge,
                                     body, {api::kFieldManager, false, ""});
        ++writes_;
        if (!r) {
          step_error = r.error();
          break;
        }
        for (auto& p : round.obs.pods) {
          if (p.name == name) p.role = api::kRoleActive;
        }
        if (promotions_ != nullptr) promotions_->with({{"shardset", round.key}})->inc();
        event(round.set_obj, kube::EventType::kNormal, "Promoted",
              "promoted warm pod " + name + " to active");
        spdlog::info("shardset {}: promoted {}", round.key, name);
      }
      break;
    }
    case StepKind::kWriteRouting: {
      auto r = write_routing(round);
      if (!r && r.error().kind == ErrorKind::kConflict) {
        step_error = r.error();  // the cache is behind: retry at once, not a failure
      } else if (!r) {
        step_error = r.error();
        failed_step = true;
        event(round.set_obj, kube::EventType::kWarning, "RoutingWriteFailed",
              "ConfigMap " + s.config_map + ": " + r.error().to_string());
      }
      break;
    }
    case StepKind::kDeletePods: {
      if (round.routing_corrupt) break;  // owners unknown: delete nothing
      // Quorum read of the routing document right before deleting: a pod it
      // names is never deleted, even if the cache is behind.
      std::set<std::string> referenced;
      auto live = deps_.client->get(kube::resources::kConfigMaps, s.ns, s.config_map);
      if (!live && live.error().kind != ErrorKind::kNotFound) {
        step_error = live.error();
        break;
      }
      if (live) {
        const Json data = live->value("data", Json::object());
        if (data.is_object() && data.contains(api::kRoutingKey) &&
            data[api::kRoutingKey].is_string()) {
          auto doc = ParseRoutingDocument(data[api::kRoutingKey].get<std::string>());
          if (!doc) break;
          referenced = doc->referenced_pods();
        }
      }
      for (const auto& rm : d.remove) {
        if (referenced.count(rm.name)) continue;
        kube::DeleteOptions opts;
        opts.precondition_uid = rm.uid;
        auto r = deps_.client->remove(kube::resources::kPods, s.ns, rm.name, opts);
        ++writes_;
        if (!r && !Ignorable(r.error(), ErrorKind::kNotFound)) {
          step_error = r.error();
          break;
        }
        if (rm.reason != "Failed") {
          // The ordinal is gone (scale-in or a smaller warm pool): its claims
          // go too. A failed pod's replacement reuses them.
          for (const auto& vct : s.volume_claim_templates) {
            std::string claim = vct.contains("metadata") && vct["metadata"].is_object()
                                    ? vct["metadata"].value("name", std::string())
                                    : std::string();
            if (claim.empty()) continue;
            auto pr = deps_.client->remove(kube::resources::kPersistentVolumeClaims, s.ns,
                                           claim + "-" + rm.name);
            ++writes_;
            if (!pr && !Ignorable(pr.error(), ErrorKind::kNotFound)) {
              step_error = pr.error();
              break;
            }
            if (pr) spdlog::info("shardset {}: deleted claim {}-{}", round.key, claim, rm.name);
          }
          if (step_error) break;
        }
        if (rm.reason == "Failed") {
          event(round.set_obj, kube::EventType::kNormal, "PodReplaced",
                "deleted failed pod " + rm.name + "; a replacement follows");
        } else if (rm.reason == "ScaleIn") {
          event(round.set_obj, kube::EventType::kNormal, "ScaledIn",
                "deleted drained pod " + rm.name + " (desired replicas " +
                    std::to_string(s.replicas) + ")");
        } else {
          event(round.set_obj, kube::EventType::kNormal, "ScaledIn",
                "deleted warm pod " + rm.name + " beyond spec.warmPool.size " +
                    std::to_string(s.warm_pool));
        }
        spdlog::info("shardset {}: deleted pod {} ({})", round.key, rm.name, rm.reason);
      }
      break;
    }
    case StepKind::kCreatePods: {
      for (const auto& c : d.create) {
        for (const auto& vct : s.volume_claim_templates) {
          auto pvc = BuildPvc(s, vct, c.ordinal);
          if (!pvc) continue;  // ParseShardSet already validated the templates
          auto r = deps_.client->create(kube::resources::kPersistentVolumeClaims, s.ns, *pvc);
          ++writes_;
          if (!r && !Ignorable(r.error(), ErrorKind::kAlreadyExists)) {
            step_error = r.error();
            break;
          }
        }
        if (step_error) break;
        auto r = deps_.client->create(kube::resources::kPods, s.ns, BuildPod(s, c.ordinal, c.role));
        ++writes_;
        if (!r && !Ignorable(r.error(), ErrorKind::kAlreadyExists)) {
          step_error = r.error();
          if (r.error().kind == ErrorKind::kInvalid) {
            round.problem = "spec.template: the API server rejected pod " + PodName(s, c.ordinal) +
                            ": " + r.error().message;
            round.problem_reason = "PodCreateFailed";
            failed_step = true;
            event(round.set_obj, kube::EventType::kWarning, "PodCreateFailed", round.problem);
          }
          break;
        }
        if (r)
          spdlog::info("shardset {}: created pod {} ({})", round.key, PodName(s, c.ordinal),
                       c.role);
      }
      break;
    }
  }

  if (step_error && !failed_step) {
    set_metrics(round.key, round);
    return unexpected(*step_error);
  }
  set_metrics(round.key, round);
  if (failed_step && round.problem.empty()) {
    round.problem =
        "routing: writing ConfigMap " + s.config_map + " failed: " + step_error->to_string();
    round.problem_reason = "RoutingWriteFailed";
  }
  auto st = write_status(round);
  if (step_error) return unexpected(*step_error);
  if (!st) return unexpected(st.error());
  if (d.kind != StepKind::kNone) return ctrl::Action::RequeueAfter(deps_.step_requeue);
  if (d.waiting) return ctrl::Action::RequeueAfter(deps_.wait_requeue);
  return ctrl::Action::AwaitChange();
}

kube::ApiStatus ShardSetReconciler::write_routing(Round& round) {
  const ShardSetSpec& s = round.spec;
  if (!round.cm.is_null() && api::FencingTokenOf(round.cm) > round.token) {
    return kube::api_error(ErrorKind::kForbidden,
                           "ConfigMap " + s.config_map + " carries fencing token " +
                               std::to_string(api::FencingTokenOf(round.cm)) + " > ours " +
                               std::to_string(round.token) + "; refusing to write");
  }
  if (!deps_.may_write(round.token)) {
    return kube::api_error(ErrorKind::kForbidden, "fencing token no longer valid");
  }
  std::map<std::string, std::string> ips;
  for (const auto& p : round.obs.pods) {
    if (p.live()) ips[p.name] = p.ip;
  }
  int64_t epoch = round.epoch + 1;
  Json doc = BuildRoutingDocument(s, round.desired.assignment, ips, epoch,
                                  round.obs.routing ? &*round.obs.routing : nullptr);
  Json cm = round.cm.is_null() ? Json{{"apiVersion", "v1"},
                                      {"kind", "ConfigMap"},
                                      {"metadata", {{"name", s.config_map}, {"namespace", s.ns}}}}
                               : round.cm;
  Json& md = cm["metadata"];
  if (!md.contains("labels") || !md["labels"].is_object()) md["labels"] = Json::object();
  md["labels"][api::kLabelShardSet] = s.name;
  if (!md.contains("annotations") || !md["annotations"].is_object()) {
    md["annotations"] = Json::object();
  }
  md["annotations"][api::kAnnotationFencing] = std::to_string(round.token);
  if (ControllerUid(cm) != s.uid) {
    if (!md.contains("ownerReferences") || !md["ownerReferences"].is_array()) {
      md["ownerReferences"] = Json::array();
    }
    md["ownerReferences"].push_back(OwnerReference(s));
  }
  if (!cm.contains("data") || !cm["data"].is_object()) cm["data"] = Json::object();
  cm["data"][api::kRoutingKey] = doc.dump();
  ++writes_;
  auto r = round.cm.is_null() ? deps_.client->create(kube::resources::kConfigMaps, s.ns, cm)
                              : deps_.client->update(kube::resources::kConfigMaps, s.ns, cm);
  if (!r) {
    if (r.error().kind == ErrorKind::kAlreadyExists && round.cm.is_null()) {
      // Not in our (label-selected) cache: either the cache is behind, or
      // the ConfigMap belongs to someone else. Look before retrying.
      auto cur = deps_.client->get(kube::resources::kConfigMaps, s.ns, s.config_map);
      if (cur) {
        std::string owner = ControllerUid(*cur);
        if (owner != s.uid) {
          round.problem = "spec.routing.configMapName: ConfigMap " + s.config_map +
                          " already exists and is not managed by this ShardSet";
          round.problem_reason = "RoutingConfigMapConflict";
        }
      }
    }
    return unexpected(r.error());
  }
  round.epoch = epoch;
  auto parsed = ParseRoutingDocument(doc.dump());
  if (parsed) round.published = std::move(parsed.value());
  if (epoch_gauge_ != nullptr) epoch_gauge_->with({{"shardset", round.key}})->set(double(epoch));
  size_t total = round.desired.assignment.size();
  event(round.set_obj, kube::EventType::kNormal, "RangesMoved",
        std::to_string(round.desired.moved) + " of " + std::to_string(total) +
            " range(s) moved; routing epoch " + std::to_string(epoch));
  spdlog::info("shardset {}: routing epoch {} ({} ranges moved)", round.key, epoch,
               round.desired.moved);
  return {};
}

kube::ApiStatus ShardSetReconciler::write_status(Round& round) {
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
  const Desired& d = round.desired;
  bool degraded = !round.problem.empty();
  in.conditions.push_back({"Degraded", degraded ? "True" : "False",
                           degraded ? round.problem_reason : "AsExpected",
                           degraded ? round.problem : ""});
  bool progressing = d.kind != StepKind::kNone || d.waiting;
  std::string preason = "Converged";
  switch (d.kind) {
    case StepKind::kPromote:
      preason = "Promoting";
      break;
    case StepKind::kWriteRouting:
      preason = "Rebalancing";
      break;
    case StepKind::kDeletePods:
      preason = "DeletingPods";
      break;
    case StepKind::kCreatePods:
      preason = "CreatingPods";
      break;
    case StepKind::kNone:
      preason = d.waiting ? "WaitingForPods" : "Converged";
      break;
  }
  in.conditions.push_back(
      {"Progressing", progressing ? "True" : "False", preason, progressing ? d.summary : ""});
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
  in.conditions.push_back(
      {"Ready", ready ? "True" : "False", ready ? "AllRangesServed" : "NotReady",
       std::to_string(active_ready) + "/" + std::to_string(s.replicas) + " active pods ready" +
           (owners_ok         ? "; every range has a ready owner"
            : round.published ? "; some ranges have no ready owner"
                              : "; no routing document yet")});
  AddKstatusConditions(in.conditions);
  const Json prev = round.set_obj.value("status", Json::object());
  Json status = BuildStatus(in, prev, deps_.now());
  if (status == prev) return {};
  Json obj = round.set_obj;
  obj["status"] = status;
  ++writes_;
  auto r = deps_.client->update_status(api::kShardSets, s.ns, obj);
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
  sets.add_handlers(
      {own, [own](const kube::ObjectPtr&, const kube::ObjectPtr& n) { own(n); }, own});
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
  pods.add_handlers(by_owner);
  cms.add_handlers(by_owner);
  if (policies == nullptr) return;
  // A policy's status changes often (action progress); only a change of its
  // replica requests or of the sets it governs concerns the ShardSets.
  auto named = [](const kube::ObjectPtr& o) {
    std::set<std::string> out;
    if (!o || !o->contains("status") || !(*o)["status"].is_object()) return out;
    const Json& st = (*o)["status"];
    if (st.contains("selectedShardSets") && st["selectedShardSets"].is_array()) {
      for (const auto& n : st["selectedShardSets"]) {
        if (n.is_string()) out.insert(n.get<std::string>());
      }
    }
    if (st.contains("replicaRequests") && st["replicaRequests"].is_array()) {
      for (const auto& r : st["replicaRequests"]) {
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
    return Json{st.value("selectedShardSets", Json()), st.value("replicaRequests", Json())};
  };
  auto enqueue = [&c, named](const kube::ObjectPtr& o) {
    if (!o) return;
    std::string ns = kube::ObjectNamespace(*o);
    for (const auto& n : named(o)) c.enqueue(ns + "/" + n);
  };
  policies->add_handlers(
      {enqueue,
       [enqueue, requests](const kube::ObjectPtr& old_obj, const kube::ObjectPtr& new_obj) {
         if (requests(old_obj) == requests(new_obj)) return;
         enqueue(old_obj);
         enqueue(new_obj);
       },
       enqueue});
}

}  // namespace shardcast::shardset
