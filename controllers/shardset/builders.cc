// Parsing and builders of the ShardSet controller (pure).
#include <algorithm>
#include <cmath>
#include <limits>

#include "controllers/api/resources.h"
#include "controllers/planner/placement.h"
#include "controllers/shardset/shardset.h"

namespace shardcast::shardset {
namespace {

std::string Show(const Json& v) {
  std::string s = v.dump();
  if (s.size() > 64) s = s.substr(0, 61) + "...";
  return s;
}

// Reads an optional integer field at obj[key]; `path` names it in errors.
Result<void> ReadInt(const Json& obj, const char* key, const std::string& path, int64_t lo,
                     int64_t hi, int* out) {
  if (!obj.is_object() || !obj.contains(key) || obj[key].is_null()) return {};
  const Json& v = obj[key];
  bool integral = v.is_number_integer() ||
                  (v.is_number_float() && std::isfinite(v.get<double>()) &&
                   v.get<double>() == std::floor(v.get<double>()));
  if (!integral) {
    return unexpected(Error{path + ": must be an integer in " + std::to_string(lo) + ".." +
                            std::to_string(hi) + ", got " + Show(v)});
  }
  double d = v.get<double>();
  if (d < static_cast<double>(lo) || d > static_cast<double>(hi)) {
    return unexpected(Error{path + ": must be in " + std::to_string(lo) + ".." +
                            std::to_string(hi) + ", got " + Show(v)});
  }
  *out = static_cast<int>(d);
  return {};
}

Result<const Json*> Section(const Json& parent, const char* key, const std::string& path) {
  static const Json kEmpty = Json::object();
  if (!parent.contains(key) || parent[key].is_null()) return &kEmpty;
  if (!parent[key].is_object()) {
    return unexpected(Error{path + ": must be an object, got " + Show(parent[key])});
  }
  return &parent[key];
}

bool IsDns1123Label(const std::string& s, size_t max) {
  if (s.empty() || s.size() > max) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) return false;
  }
  return s.front() != '-' && s.back() != '-' && s.front() != '.' && s.back() != '.';
}

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
  ShardSetSpec s;
  if (!obj.is_object()) return unexpected(Error{"object: must be a JSON object"});
  if (!obj.contains("metadata") || !obj["metadata"].is_object()) {
    return unexpected(Error{"metadata: missing"});
  }
  const Json& md = obj["metadata"];
  s.name = StringAt(md, "name");
  s.ns = StringAt(md, "namespace");
  s.uid = StringAt(md, "uid");
  if (s.name.empty()) return unexpected(Error{"metadata.name: missing"});
  if (md.contains("generation") && md["generation"].is_number_integer()) {
    s.generation = md["generation"].get<int64_t>();
  }
  if (!obj.contains("spec") || !obj["spec"].is_object()) {
    return unexpected(Error{"spec: missing or not an object"});
  }
  const Json& spec = obj["spec"];
  Result<void> r;
  if (!(r = ReadInt(spec, "replicas", "spec.replicas", 0, 10000, &s.replicas))) {
    return unexpected(r.error());
  }
  if (!(r = ReadInt(spec, "minReplicas", "spec.minReplicas", 0, 10000, &s.min_replicas))) {
    return unexpected(r.error());
  }
  if (!(r = ReadInt(spec, "maxReplicas", "spec.maxReplicas", 1, 10000, &s.max_replicas))) {
    return unexpected(r.error());
  }
  if (s.min_replicas > s.max_replicas) {
    return unexpected(Error{"spec.maxReplicas: must be at least spec.minReplicas (" +
                            std::to_string(s.min_replicas) + "), got " + std::to_string(s.max_replicas)});
  }
  auto warm = Section(spec, "warmPool", "spec.warmPool");
  if (!warm) return unexpected(warm.error());
  if (!(r = ReadInt(**warm, "size", "spec.warmPool.size", 0, 100, &s.warm_pool))) {
    return unexpected(r.error());
  }
  auto ks = Section(spec, "keySpace", "spec.keySpace");
  if (!ks) return unexpected(ks.error());
  if (!(r = ReadInt(**ks, "ranges", "spec.keySpace.ranges", 1, 4096, &s.ranges))) {
    return unexpected(r.error());
  }
  auto hashing = Section(**ks, "hashing", "spec.keySpace.hashing");
  if (!hashing) return unexpected(hashing.error());
  if (!(r = ReadInt(**hashing, "virtualNodes", "spec.keySpace.hashing.virtualNodes", 1, 1024,
                    &s.virtual_nodes))) {
    return unexpected(r.error());
  }
  if ((*hashing)->contains("algorithm") && !(**hashing)["algorithm"].is_null() &&
      (**hashing)["algorithm"] != "ConsistentHash") {
    return unexpected(Error{"spec.keySpace.hashing.algorithm: must be ConsistentHash, got " +
                            Show((**hashing)["algorithm"])});
  }
  if ((*hashing)->contains("loadFactor") && !(**hashing)["loadFactor"].is_null()) {
    const Json& lf = (**hashing)["loadFactor"];
    if (!lf.is_number() || !std::isfinite(lf.get<double>()) || lf.get<double>() < 1.0 ||
        lf.get<double>() > 4.0) {
      return unexpected(
          Error{"spec.keySpace.hashing.loadFactor: must be a number in 1.0..4.0, got " + Show(lf)});
    }
    s.load_factor = lf.get<double>();
  }
  if (!spec.contains("routing") || !spec["routing"].is_object()) {
    return unexpected(Error{"spec.routing: missing or not an object"});
  }
  const Json& routing = spec["routing"];
  if (!routing.contains("configMapName") || !routing["configMapName"].is_string() ||
      !IsDns1123Label(routing["configMapName"].get<std::string>(), 253)) {
    return unexpected(Error{"spec.routing.configMapName: must be a DNS-1123 subdomain, got " +
                            Show(routing.value("configMapName", Json()))});
  }
  s.config_map = routing["configMapName"].get<std::string>();
  if (!(r = ReadInt(routing, "port", "spec.routing.port", 1, 65535, &s.port))) {
    return unexpected(r.error());
  }
  if (!spec.contains("template") || !spec["template"].is_object()) {
    return unexpected(Error{"spec.template: missing or not an object"});
  }
  s.pod_template = spec["template"];
  if (s.pod_template.contains("metadata") && !s.pod_template["metadata"].is_null() &&
      !s.pod_template["metadata"].is_object()) {
    return unexpected(Error{"spec.template.metadata: must be an object"});
  }
  for (const char* f : {"labels", "annotations"}) {
    if (s.pod_template.contains("metadata") && s.pod_template["metadata"].is_object() &&
        s.pod_template["metadata"].contains(f)) {
      const Json& m = s.pod_template["metadata"][f];
      if (m.is_null()) continue;
      if (!m.is_object()) {
        return unexpected(Error{std::string("spec.template.metadata.") + f + ": must be a map"});
      }
      for (auto it = m.begin(); it != m.end(); ++it) {
        if (!it.value().is_string()) {
          return unexpected(Error{std::string("spec.template.metadata.") + f + "." + it.key() +
                                  ": must be a string"});
        }
      }
    }
  }
  if (!s.pod_template.contains("spec") || !s.pod_template["spec"].is_object()) {
    return unexpected(Error{"spec.template.spec: missing or not an object"});
  }
  if (spec.contains("volumeClaimTemplates") && !spec["volumeClaimTemplates"].is_null()) {
    const Json& vcts = spec["volumeClaimTemplates"];
    if (!vcts.is_array()) return unexpected(Error{"spec.volumeClaimTemplates: must be a list"});
    for (size_t i = 0; i < vcts.size(); ++i) {
      std::string path = "spec.volumeClaimTemplates[" + std::to_string(i) + "]";
      if (!vcts[i].is_object()) return unexpected(Error{path + ": must be an object"});
      std::string claim = StringAt(vcts[i], "metadata", "name");
      if (!IsDns1123Label(claim, 63)) {
        return unexpected(Error{path + ".metadata.name: must be a DNS-1123 label, got " +
                                Show(vcts[i].value("metadata", Json::object()).value("name", Json()))});
      }
      s.volume_claim_templates.push_back(vcts[i]);
    }
  }
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
  return Json{{"apiVersion", "v1"},
              {"kind", "PersistentVolumeClaim"},
              {"metadata", md},
              {"spec", spec}};
}

// ---- routing ----

std::set<std::string> RoutingDocument::referenced_pods() const {
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

Result<RoutingDocument> ParseRoutingDocument(const std::string& text) {
  Json doc = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return unexpected(Error{"routing.json: not a JSON object"});
  }
  RoutingDocument out;
  out.raw = doc;
  if (doc.value("schemaVersion", Json()) != 1) {
    return unexpected(Error{"routing.json schemaVersion: must be 1"});
  }
  if (!doc.contains("epoch") || !doc["epoch"].is_number_integer() ||
      doc["epoch"].get<int64_t>() < 0) {
    return unexpected(Error{"routing.json epoch: must be a non-negative integer"});
  }
  out.epoch = doc["epoch"].get<int64_t>();
  if (!doc.contains("ranges") || !doc["ranges"].is_array() || doc["ranges"].empty()) {
    return unexpected(Error{"routing.json ranges: must be a non-empty list"});
  }
  std::set<uint32_t> ids;
  for (size_t i = 0; i < doc["ranges"].size(); ++i) {
    const Json& e = doc["ranges"][i];
    std::string path = "routing.json ranges[" + std::to_string(i) + "]";
    if (!e.is_object()) return unexpected(Error{path + ": must be an object"});
    RoutingRange r;
    for (auto [key, dst] : {std::pair<const char*, uint32_t*>{"id", &r.id}, {"start", &r.start},
                            {"end", &r.end}}) {
      if (!e.contains(key) || !e[key].is_number_unsigned() ||
          e[key].get<uint64_t>() > std::numeric_limits<uint32_t>::max()) {
        return unexpected(Error{path + "." + key + ": must be an integer in [0, 2^32)"});
      }
      *dst = static_cast<uint32_t>(e[key].get<uint64_t>());
    }
    if (r.start > r.end) return unexpected(Error{path + ".end: must be >= start"});
    if (!ids.insert(r.id).second) {
      return unexpected(Error{path + ".id: duplicate range id " + std::to_string(r.id)});
    }
    r.owner = e.contains("owner") && e["owner"].is_string() ? e["owner"].get<std::string>() : "";
    r.endpoint =
        e.contains("endpoint") && e["endpoint"].is_string() ? e["endpoint"].get<std::string>() : "";
    r.state = e.contains("state") && e["state"].is_string() ? e["state"].get<std::string>()
                                                           : "stable";
    r.raw = e;
    out.ranges.push_back(std::move(r));
  }
  std::sort(out.ranges.begin(), out.ranges.end(),
            [](const RoutingRange& a, const RoutingRange& b) { return a.start < b.start; });
  uint64_t next = 0;
  for (const auto& r : out.ranges) {
    if (r.start != next) {
      return unexpected(Error{"routing.json ranges: range " + std::to_string(r.id) +
                              " starts at " + std::to_string(r.start) + ", expected " +
                              std::to_string(next) + " (gap or overlap)"});
    }
    next = static_cast<uint64_t>(r.end) + 1;
  }
  if (next != (uint64_t{1} << 32)) {
    return unexpected(Error{"routing.json ranges: do not reach 2^32 - 1"});
  }
  return out;
}

std::vector<RoutingRange> EvenRanges(int count) {
  std::vector<RoutingRange> out;
  if (count <= 0) return out;
  const uint64_t space = uint64_t{1} << 32;
  for (int i = 0; i < count; ++i) {
    RoutingRange r;
    r.id = static_cast<uint32_t>(i);
    r.start = static_cast<uint32_t>(space * static_cast<uint64_t>(i) / static_cast<uint64_t>(count));
    r.end = static_cast<uint32_t>(space * static_cast<uint64_t>(i + 1) /
                                      static_cast<uint64_t>(count) -
                                  1);
    out.push_back(r);
  }
  return out;
}

std::string Endpoint(const std::string& ip, int port) {
  if (ip.empty()) return "";
  if (ip.find(':') != std::string::npos) return "[" + ip + "]:" + std::to_string(port);
  return ip + ":" + std::to_string(port);
}

Json BuildRoutingDocument(const ShardSetSpec& set, const std::map<uint32_t, std::string>& assignment,
                          const std::map<std::string, std::string>& pod_ips, int64_t epoch,
                          const RoutingDocument* previous) {
  Json doc = previous != nullptr ? previous->raw : Json::object();
  doc["schemaVersion"] = 1;
  doc["shardSet"] = set.name;
  doc["epoch"] = epoch;
  doc["hash"] = "fnv1a64-high32";
  std::vector<RoutingRange> ranges = previous != nullptr ? previous->ranges : EvenRanges(set.ranges);
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
  // Fields written by others (forecasts by the MigrationPolicy controller).
  if (previous_status.is_object() && previous_status.contains("forecasts")) {
    st["forecasts"] = previous_status["forecasts"];
  }
  return st;
}

}  // namespace shardcast::shardset
