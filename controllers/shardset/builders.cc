// Parsing and builders of the ShardSet controller (pure).
#include <algorithm>
#include <cmath>
#include <limits>

#include "controllers/api/resources.h"
#include "controllers/planner/placement.h"
#include "controllers/shardset/shardset.h"
#include "router/document.h"

namespace shardcast::shardset {
namespace {

std::string StringAt(const Json& obj, const char* a, const char* b = nullptr) {
  if (!obj.is_object() || !obj.contains(a)) return {};
  const Json* v = &obj[a];
  if (b != nullptr) {
    if (!v->is_object() || !v->contains(b)) return {};
    v = &(*v)[b];
  }
  return v->is_string() ? v->get<std::string>() : std::string();
}

}  // namespace

Result<ShardSetSpec> ParseShardSet(const Json& obj) {
  auto set = api::ParseShardSet(obj, api::ShardSetUse::kWorkload);
  if (!set) return unexpected(set.error());
  ShardSetSpec s;
  static_cast<api::ShardSet&>(s) = std::move(set).value();
  return s;
}

ObservedPod ObservePod(const Json& pod) {
  ObservedPod p;
  if (!pod.is_object()) return p;
  const Json md = pod.value("metadata", Json::object());
  if (md.is_object()) {
    p.name = StringAt(md, "name");
    p.uid = StringAt(md, "uid");
    p.resource_version = StringAt(md, "resourceVersion");
    p.role = StringAt(md, "labels", api::kLabelRole);
    p.terminating = md.contains("deletionTimestamp") && !md["deletionTimestamp"].is_null();
  }
  p.ordinal = planner::PodOrdinal(p.name);
  const Json st = pod.value("status", Json::object());
  if (st.is_object()) {
    p.phase = StringAt(st, "phase");
    p.ip = StringAt(st, "podIP");
    if (st.contains("conditions") && st["conditions"].is_array()) {
      for (const auto& c : st["conditions"]) {
        if (c.is_object() && c.value("type", Json()) == "Ready" &&
            c.value("status", Json()) == "True") {
          p.ready = true;
        }
      }
    }
  }
  if (p.failed()) p.ready = false;
  return p;
}

std::string PodName(const ShardSetSpec& set, long ordinal) {
  return set.name + "-" + std::to_string(ordinal);
}

std::vector<std::string> ClaimNames(const ShardSetSpec& set, const std::string& pod) {
  std::vector<std::string> out;
  for (const auto& vct : set.volume_claim_templates) {
    std::string claim = StringAt(vct, "metadata", "name");
    if (!claim.empty()) out.push_back(claim + "-" + pod);
  }
  return out;
}

Json OwnerReference(const ShardSetSpec& set) {
  return Json{{"apiVersion", "shardcast.dev/v1alpha1"},
              {"kind", "ShardSet"},
              {"name", set.name},
              {"uid", set.uid},
              {"controller", true},
              {"blockOwnerDeletion", true}};
}

Json BuildPod(const ShardSetSpec& set, long ordinal, const std::string& role) {
  const Json& tmpl = set.pod_template;
  Json md = Json::object();
  if (tmpl.contains("metadata") && tmpl["metadata"].is_object()) {
    for (const char* f : {"labels", "annotations"}) {
      if (tmpl["metadata"].contains(f) && tmpl["metadata"][f].is_object()) {
        md[f] = tmpl["metadata"][f];
      }
    }
  }
  if (!md.contains("labels")) md["labels"] = Json::object();
  md["labels"][api::kLabelShardSet] = set.name;
  md["labels"][api::kLabelRole] = role;
  md["name"] = PodName(set, ordinal);
  md["namespace"] = set.ns;
  md["ownerReferences"] = Json::array({OwnerReference(set)});

  Json spec = tmpl.contains("spec") && tmpl["spec"].is_object() ? tmpl["spec"] : Json::object();
  if (!spec.contains("hostname")) spec["hostname"] = PodName(set, ordinal);
  if (!set.volume_claim_templates.empty()) {
    if (!spec.contains("volumes") || !spec["volumes"].is_array()) spec["volumes"] = Json::array();
    for (const auto& vct : set.volume_claim_templates) {
      std::string claim = StringAt(vct, "metadata", "name");
      bool present = false;
      for (const auto& v : spec["volumes"]) {
        if (v.is_object() && v.value("name", Json()) == claim) present = true;
      }
      if (!present) {
        spec["volumes"].push_back(
            {{"name", claim},
             {"persistentVolumeClaim", {{"claimName", claim + "-" + PodName(set, ordinal)}}}});
      }
    }
  }
  return Json{{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", md}, {"spec", spec}};
}

Result<Json> BuildPvc(const ShardSetSpec& set, const Json& claim_template, long ordinal) {
  if (!claim_template.is_object()) {
    return unexpected(Error{"spec.volumeClaimTemplates[]: must be an object"});
  }
  std::string claim = StringAt(claim_template, "metadata", "name");
  if (claim.empty()) {
    return unexpected(Error{"spec.volumeClaimTemplates[].metadata.name: missing"});
  }
  Json md = Json::object();
  const Json& tmd = claim_template["metadata"];
  for (const char* f : {"labels", "annotations"}) {
    if (tmd.contains(f) && tmd[f].is_object()) md[f] = tmd[f];
  }
  if (!md.contains("labels")) md["labels"] = Json::object();
  md["labels"][api::kLabelShardSet] = set.name;
  md["name"] = claim + "-" + PodName(set, ordinal);
  md["namespace"] = set.ns;
  md["ownerReferences"] = Json::array({OwnerReference(set)});
  Json spec = claim_template.contains("spec") && claim_template["spec"].is_object()
                  ? claim_template["spec"]
                  : Json::object();
  return Json{
      {"apiVersion", "v1"}, {"kind", "PersistentVolumeClaim"}, {"metadata", md}, {"spec", spec}};
}

// ---- routing ----

std::set<std::string> RoutingDocument::ReferencedPods() const {
  std::set<std::string> out;
  for (const auto& r : ranges) {
    if (!r.owner.empty()) out.insert(r.owner);
    for (const char* f : {"source", "target"}) {
      if (r.raw.contains(f) && r.raw[f].is_string()) out.insert(r.raw[f].get<std::string>());
    }
    if (r.raw.contains("echoes") && r.raw["echoes"].is_array()) {
      for (const auto& e : r.raw["echoes"]) {
        if (e.is_object() && e.contains("pod") && e["pod"].is_string()) {
          out.insert(e["pod"].get<std::string>());
        }
      }
    }
  }
  return out;
}

std::map<uint32_t, std::string> RoutingDocument::owners() const {
  std::map<uint32_t, std::string> out;
  for (const auto& r : ranges) out[r.id] = r.owner;
  return out;
}

// The one routing-document parser is router::ParseDocument (coverage, no
// overlap, unique ids, a non-empty owner, valid endpoints and states); this is
// the controllers' view of what it accepted, with the entries as published.
Result<RoutingDocument> ParseRoutingDocument(const std::string& text) {
  auto typed = router::ParseDocument(text);
  if (!typed) return unexpected(Error{"routing.json " + typed.error().message});
  RoutingDocument out;
  out.raw = Json::parse(text);  // valid JSON: the parser above accepted it
  out.epoch = static_cast<int64_t>(typed->epoch);
  std::map<uint32_t, const Json*> entries;
  for (const auto& e : out.raw["ranges"]) entries[e["id"].get<uint32_t>()] = &e;
  for (const auto& t : typed->ranges) {
    RoutingRange r;
    r.id = t.id;
    r.start = t.start;
    r.end = t.end;
    r.owner = t.owner;
    r.endpoint = t.endpoint;
    r.state = std::string(router::RangeStateName(t.state));
    r.raw = *entries.at(t.id);
    out.ranges.push_back(std::move(r));
  }
  return out;
}

std::vector<RoutingRange> EvenRanges(int count) {
  std::vector<RoutingRange> out;
  if (count <= 0) return out;
  for (const auto& e : router::EvenRanges(static_cast<uint32_t>(count))) {
    RoutingRange r;
    r.id = e.id;
    r.start = e.start;
    r.end = e.end;
    out.push_back(r);
  }
  return out;
}

std::string Endpoint(const std::string& ip, int port) {
  if (ip.empty()) return "";
  if (ip.find(':') != std::string::npos) return "[" + ip + "]:" + std::to_string(port);
  return ip + ":" + std::to_string(port);
}

Json BuildRoutingDocument(const ShardSetSpec& set,
                          const std::map<uint32_t, std::string>& assignment,
                          const std::map<std::string, std::string>& pod_ips, int64_t epoch,
                          const RoutingDocument* previous) {
  Json doc = previous != nullptr ? previous->raw : Json::object();
  doc["schemaVersion"] = 1;
  doc["shardSet"] = set.name;
  doc["epoch"] = epoch;
  doc["hash"] = "fnv1a64-high32";
  std::vector<RoutingRange> ranges =
      previous != nullptr ? previous->ranges : EvenRanges(set.ranges);
  auto ip_of = [&](const std::string& pod) {
    auto it = pod_ips.find(pod);
    return it == pod_ips.end() ? std::string() : it->second;
  };
  Json out = Json::array();
  for (const auto& r : ranges) {
    Json e = r.raw.is_object() ? r.raw : Json::object();
    e["id"] = r.id;
    e["start"] = r.start;
    e["end"] = r.end;
    std::string owner = r.owner;
    if (auto it = assignment.find(r.id); it != assignment.end()) owner = it->second;
    e["owner"] = owner;
    e["endpoint"] = Endpoint(ip_of(owner), set.port);
    std::string state = e.contains("state") && e["state"].is_string()
                            ? e["state"].get<std::string>()
                            : std::string("stable");
    bool moving = state == "migrating" || state == "shadow";
    if (moving && !(e.contains("source") && e["source"] == owner)) {
      // The owner changed under a migration (e.g. its source pod died): the
      // migration no longer applies; the MigrationPolicy controller re-plans.
      state = "stable";
      moving = false;
    }
    e["state"] = state;
    if (!moving) {
      e["source"] = nullptr;
      e["target"] = nullptr;
      if (e.contains("targetEndpoint")) e["targetEndpoint"] = nullptr;
      e["shadowFraction"] = 0;
    } else if (e.contains("target") && e["target"].is_string()) {
      std::string tip = ip_of(e["target"].get<std::string>());
      if (!tip.empty()) e["targetEndpoint"] = Endpoint(tip, set.port);
    }
    if (!e.contains("echoes") || !e["echoes"].is_array()) e["echoes"] = Json::array();
    out.push_back(std::move(e));
  }
  doc["ranges"] = std::move(out);
  return doc;
}

// ---- status ----

Json BuildStatus(const StatusInput& in, const Json& previous_status, const std::string& now) {
  Json st = Json::object();
  st["observedGeneration"] = in.observed_generation;
  st["selector"] = in.selector;
  int active = 0, warm = 0, ready = 0, warm_ready = 0;
  Json pods = Json::array();
  std::vector<ObservedPod> sorted = in.pods;
  std::sort(sorted.begin(), sorted.end(), [](const ObservedPod& a, const ObservedPod& b) {
    return a.ordinal != b.ordinal ? a.ordinal < b.ordinal : a.name < b.name;
  });
  for (const auto& p : sorted) {
    if (!p.live()) continue;
    std::string role = p.role == api::kRoleActive ? api::kRoleActive : api::kRoleWarm;
    if (role == api::kRoleActive) {
      ++active;
      if (p.ready) ++ready;
    } else {
      ++warm;
      if (p.ready) ++warm_ready;
    }
    auto it = in.ranges_per_pod.find(p.name);
    pods.push_back({{"name", p.name},
                    {"role", role},
                    {"ready", p.ready},
                    {"ranges", it == in.ranges_per_pod.end() ? 0 : it->second}});
  }
  st["replicas"] = active;
  st["desiredReplicas"] = in.desired_replicas;
  st["desiredReplicasFrom"] = in.desired_from;
  st["readyReplicas"] = ready;
  st["activeReplicas"] = active;
  st["warmReplicas"] = warm_ready;
  st["epoch"] = in.epoch;
  st["pods"] = pods;
  Json conds = Json::array();
  for (const auto& c : in.conditions) {
    std::string ltt = now;
    if (previous_status.is_object() && previous_status.contains("conditions") &&
        previous_status["conditions"].is_array()) {
      for (const auto& pc : previous_status["conditions"]) {
        if (pc.is_object() && pc.value("type", Json()) == c.type &&
            pc.value("status", Json()) == c.status && pc.contains("lastTransitionTime") &&
            pc["lastTransitionTime"].is_string()) {
          ltt = pc["lastTransitionTime"].get<std::string>();
        }
      }
    }
    conds.push_back({{"type", c.type},
                     {"status", c.status},
                     {"reason", c.reason},
                     {"message", c.message},
                     {"lastTransitionTime", ltt},
                     {"observedGeneration", in.observed_generation}});
  }
  st["conditions"] = conds;
  Json requests = Json::array();
  for (const auto& r : in.ownership_requests) {
    requests.push_back(
        {{"range", r.range}, {"owner", r.owner}, {"reason", r.reason}, {"since", r.since}});
  }
  st["ownershipRequests"] = std::move(requests);
  // Fields written by others (forecasts, router statistics, ...) are kept.
  if (previous_status.is_object()) {
    for (const auto& [key, value] : previous_status.items()) {
      if (!st.contains(key)) st[key] = value;
    }
  }
  return st;
}

}  // namespace shardcast::shardset
