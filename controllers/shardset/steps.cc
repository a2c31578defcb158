// The steps one ShardSet round executes: promote, publish the first routing
// document, delete pods, create pods.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "controllers/api/fencing.h"
#include "controllers/api/resources.h"
#include "controllers/shardset/reconciler.h"
#include "controllers/shardset/round.h"

namespace shardcast::shardset {
namespace {

using kube::ErrorKind;

bool Ignorable(const kube::ApiError& e, ErrorKind k) { return e.kind == k; }

// Whether a deletion in `remove` takes the pod's claims (its data) with it.
bool WithClaims(const std::vector<PodDelete>& remove) {
  return std::any_of(remove.begin(), remove.end(), [](const PodDelete& rm) {
    return rm.reason == kDeleteScaleIn || rm.reason == kDeleteExcessWarm;
  });
}

}  // namespace

// Quorum read of the MigrationPolicies right before a deletion that takes
// claims: the policy cache may lag behind the routing document, and a pod an
// unfinished action names must stay (a move off it may still revert). No
// MigrationPolicy CRD (404) holds nothing.
kube::ApiResult<std::map<std::string, std::string>> ShardSetReconciler::LiveHeldPods(Round& round) {
  std::map<std::string, std::string> held;
  auto list = deps_.client->list(api::kMigrationPolicies, round.spec.ns);
  if (!list) {
    if (list.error().kind == ErrorKind::kNotFound) return held;
    return unexpected(list.error());
  }
  const Json items = list->value("items", Json::array());
  if (items.is_array()) {
    for (const auto& p : items) AddHeldPods(p, round.spec.name, held);
  }
  return held;
}

kube::ApiStatus ShardSetReconciler::promote(Round& round) {
  const ShardSetSpec& s = round.spec;
  for (const auto& name : round.desired.promote) {
    std::string rv;
    for (const auto& p : round.obs.pods) {
      if (p.name == name) rv = p.resource_version;
    }
    Json body = {
        {"metadata", {{"resourceVersion", rv}, {"labels", {{api::kLabelRole, api::kRoleActive}}}}}};
    auto r = deps_.client->patch(kube::resources::kPods, s.ns, name, kube::PatchType::kMerge, body,
                                 {api::kFieldManager, false, ""});
    ++writes_;
    if (!r) return unexpected(r.error());
    for (auto& p : round.obs.pods) {
      if (p.name == name) p.role = api::kRoleActive;
    }
    if (promotions_ != nullptr) promotions_->with({{"shardset", round.key}})->inc();
    event(round.set_obj, kube::EventType::kNormal, "Promoted",
          "promoted warm pod " + name +
              " to active; it owns no range until the MigrationPolicy's executor moves some to "
              "it");
    spdlog::info("shardset {}: promoted {}", round.key, name);
  }
  return {};
}

// The first routing document, create-only: into a new ConfigMap, or into a
// ConfigMap of ours that holds no document yet. Never an update of a
// document.
kube::ApiStatus ShardSetReconciler::CreateRouting(Round& round) {
  const ShardSetSpec& s = round.spec;
  if (!round.cm.is_null() && api::FencingTokenOf(round.cm) > round.token) {
    return kube::MakeApiError(ErrorKind::kForbidden,
                              "ConfigMap " + s.config_map + " carries fencing token " +
                                  std::to_string(api::FencingTokenOf(round.cm)) + " > ours " +
                                  std::to_string(round.token) + "; refusing to write");
  }
  if (!deps_.may_write(round.token)) {
    return kube::MakeApiError(ErrorKind::kForbidden, "fencing token no longer valid");
  }
  std::map<std::string, std::string> ips;
  for (const auto& p : round.obs.pods) {
    if (p.live()) ips[p.name] = p.ip;
  }
  int64_t epoch = round.epoch + 1;
  Json doc = BuildRoutingDocument(s, round.desired.assignment, ips, epoch, nullptr);
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
      if (cur && ControllerUid(*cur) != s.uid) {
        round.problem = "spec.routing.configMapName: ConfigMap " + s.config_map +
                        " already exists and is not managed by this ShardSet";
        round.problem_reason = "RoutingConfigMapConflict";
      }
    }
    return unexpected(r.error());
  }
  round.epoch = epoch;
  auto parsed = ParseRoutingDocument(doc.dump());
  if (parsed) round.published = std::move(parsed.value());
  if (epoch_gauge_ != nullptr) epoch_gauge_->with({{"shardset", round.key}})->set(double(epoch));
  event(round.set_obj, kube::EventType::kNormal, "RoutingPublished",
        "published the first routing document: " + std::to_string(round.desired.assignment.size()) +
            " range(s), epoch " + std::to_string(epoch));
  spdlog::info("shardset {}: first routing document, epoch {}", round.key, epoch);
  return {};
}

kube::ApiStatus ShardSetReconciler::DeleteClaims(Round& round, const std::string& pod) {
  const ShardSetSpec& s = round.spec;
  for (const auto& claim : ClaimNames(s, pod)) {
    auto r = deps_.client->remove(kube::resources::kPersistentVolumeClaims, s.ns, claim);
    ++writes_;
    if (!r && !Ignorable(r.error(), ErrorKind::kNotFound)) return unexpected(r.error());
    if (r) spdlog::info("shardset {}: deleted claim {}", round.key, claim);
  }
  return {};
}

kube::ApiStatus ShardSetReconciler::DeletePods(Round& round) {
  const ShardSetSpec& s = round.spec;
  if (round.obs.routing_invalid) return {};  // owners unknown: delete nothing
  // Quorum read of the routing document right before deleting: a pod it
  // names is never deleted (except a failed owner re-created under its name
  // from its claims), even if the cache is behind.
  std::set<std::string> referenced;
  auto live = deps_.client->get(kube::resources::kConfigMaps, s.ns, s.config_map);
  if (!live && live.error().kind != ErrorKind::kNotFound) return unexpected(live.error());
  if (live) {
    const Json data = live->value("data", Json::object());
    if (data.is_object() && data.contains(api::kRoutingKey) && data[api::kRoutingKey].is_string()) {
      auto doc = ParseRoutingDocument(data[api::kRoutingKey].get<std::string>());
      if (!doc) return {};
      referenced = doc->ReferencedPods();
    }
  }
  std::map<std::string, std::string> held;
  if (WithClaims(round.desired.remove)) {
    auto h = LiveHeldPods(round);
    if (!h) return unexpected(h.error());
    held = std::move(*h);
  }
  for (const auto& rm : round.desired.remove) {
    if (referenced.count(rm.name) && rm.reason != kDeleteRestart) continue;
    if (held.count(rm.name) && (rm.reason == kDeleteScaleIn || rm.reason == kDeleteExcessWarm)) {
      round.desired.held[rm.name] = held[rm.name];
      continue;
    }
    kube::DeleteOptions opts;
    opts.precondition_uid = rm.uid;
    auto r = deps_.client->remove(kube::resources::kPods, s.ns, rm.name, opts);
    ++writes_;
    if (!r && !Ignorable(r.error(), ErrorKind::kNotFound)) return unexpected(r.error());
    if (rm.reason == kDeleteScaleIn || rm.reason == kDeleteExcessWarm) {
      // The ordinal is gone and the document names the pod nowhere: its
      // claims go too. A failed pod's replacement reuses them.
      auto c = DeleteClaims(round, rm.name);
      if (!c) return c;
    }
    if (rm.reason == kDeleteFailed) {
      event(round.set_obj, kube::EventType::kNormal, "PodReplaced",
            "deleted failed pod " + rm.name + "; a replacement follows");
    } else if (rm.reason == kDeleteRestart) {
      event(round.set_obj, kube::EventType::kNormal, "PodReplaced",
            "deleted failed pod " + rm.name +
                "; it is re-created under its name with its claims and keeps its ranges");
    } else if (rm.reason == kDeleteScaleIn) {
      event(round.set_obj, kube::EventType::kNormal, "ScaledIn",
            "deleted drained pod " + rm.name + " (desired replicas " + std::to_string(s.replicas) +
                ")");
    } else {
      event(round.set_obj, kube::EventType::kNormal, "ScaledIn",
            "deleted warm pod " + rm.name + " beyond spec.warmPool.size " +
                std::to_string(s.warm_pool));
    }
    spdlog::info("shardset {}: deleted pod {} ({})", round.key, rm.name, rm.reason);
  }
  return {};
}

kube::ApiStatus ShardSetReconciler::CreatePods(Round& round, bool& failed_step) {
  const ShardSetSpec& s = round.spec;
  for (const auto& c : round.desired.create) {
    for (const auto& vct : s.volume_claim_templates) {
      auto pvc = BuildPvc(s, vct, c.ordinal);
      if (!pvc) continue;  // ParseShardSet already validated the templates
      auto r = deps_.client->create(kube::resources::kPersistentVolumeClaims, s.ns, *pvc);
      ++writes_;
      if (!r && !Ignorable(r.error(), ErrorKind::kAlreadyExists)) return unexpected(r.error());
    }
    const std::string name = PodName(s, c.ordinal);
    auto r = deps_.client->create(kube::resources::kPods, s.ns, BuildPod(s, c.ordinal, c.role));
    ++writes_;
    if (!r && !Ignorable(r.error(), ErrorKind::kAlreadyExists)) {
      if (r.error().kind == ErrorKind::kInvalid) {
        round.problem =
            "spec.template: the API server rejected pod " + name + ": " + r.error().message;
        round.problem_reason = "PodCreateFailed";
        failed_step = true;
        event(round.set_obj, kube::EventType::kWarning, "PodCreateFailed", round.problem);
      }
      return unexpected(r.error());
    }
    if (!r) continue;
    bool returning =
        std::count(round.desired.returning.begin(), round.desired.returning.end(), name) > 0;
    if (returning) {
      event(round.set_obj, kube::EventType::kNormal, "PodRecreated",
            "re-created pod " + name +
                " under its name: it finds its data in its claims and keeps its ranges");
    }
    spdlog::info("shardset {}: created pod {} ({}{})", round.key, name, c.role,
                 returning ? ", returning owner" : "");
  }
  return {};
}

}  // namespace shardcast::shardset
