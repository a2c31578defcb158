// The one ShardSet parser (defaults and validation of the CRD).
#include "controllers/api/shardset.h"

#include <cmath>

#include "controllers/api/fields.h"

namespace shardcast::api {
namespace {

using fields::IsDns1123;
using fields::ReadInt;
using fields::Section;
using fields::Show;
using fields::StringAt;

Result<void> ParseKeySpace(const Json& spec, ShardSet& s) {
  auto ks = Section(spec, "keySpace", "spec.keySpace");
  if (!ks) return unexpected(ks.error());
  if (auto r = ReadInt(**ks, "ranges", "spec.keySpace.ranges", 1, 4096, &s.ranges); !r) return r;
  auto hashing = Section(**ks, "hashing", "spec.keySpace.hashing");
  if (!hashing) return unexpected(hashing.error());
  const Json& h = **hashing;
  if (auto r = ReadInt(h, "virtualNodes", "spec.keySpace.hashing.virtualNodes", 1, 1024,
                       &s.virtual_nodes);
      !r) {
    return r;
  }
  if (h.contains("algorithm") && !h["algorithm"].is_null() && h["algorithm"] != "ConsistentHash") {
    return unexpected(Error{"spec.keySpace.hashing.algorithm: must be ConsistentHash, got " +
                            Show(h["algorithm"])});
  }
  if (h.contains("loadFactor") && !h["loadFactor"].is_null()) {
    const Json& lf = h["loadFactor"];
    if (!lf.is_number() || !std::isfinite(lf.get<double>()) || lf.get<double>() < 1.0 ||
        lf.get<double>() > 4.0) {
      return unexpected(
          Error{"spec.keySpace.hashing.loadFactor: must be a number in 1.0..4.0, got " + Show(lf)});
    }
    s.load_factor = lf.get<double>();
  }
  return {};
}

Result<void> ParseRouting(const Json& spec, ShardSetUse use, ShardSet& s) {
  if (!spec.contains("routing") || spec["routing"].is_null()) {
    if (use == ShardSetUse::kLoad) return {};
  }
  if (!spec.contains("routing") || !spec["routing"].is_object()) {
    return unexpected(Error{"spec.routing: missing or not an object"});
  }
  const Json& routing = spec["routing"];
  bool has_cm = routing.contains("configMapName") && !routing["configMapName"].is_null();
  if (has_cm || use == ShardSetUse::kWorkload) {
    if (!has_cm || !routing["configMapName"].is_string() ||
        !IsDns1123(routing["configMapName"].get<std::string>(), 253)) {
      return unexpected(Error{"spec.routing.configMapName: must be a DNS-1123 subdomain, got " +
                              Show(routing.value("configMapName", Json()))});
    }
    s.config_map = routing["configMapName"].get<std::string>();
  }
  return ReadInt(routing, "port", "spec.routing.port", 1, 65535, &s.port);
}

Result<void> ParseTemplate(const Json& spec, ShardSetUse use, ShardSet& s) {
  if ((!spec.contains("template") || spec["template"].is_null()) && use == ShardSetUse::kLoad)
    return {};
  if (!spec.contains("template") || !spec["template"].is_object()) {
    return unexpected(Error{"spec.template: missing or not an object"});
  }
  s.pod_template = spec["template"];
  const Json& t = s.pod_template;
  if (t.contains("metadata") && !t["metadata"].is_null() && !t["metadata"].is_object()) {
    return unexpected(Error{"spec.template.metadata: must be an object"});
  }
  for (const char* f : {"labels", "annotations"}) {
    if (!t.contains("metadata") || !t["metadata"].is_object() || !t["metadata"].contains(f))
      continue;
    const Json& m = t["metadata"][f];
    if (m.is_null()) continue;
    if (!m.is_object())
      return unexpected(Error{std::string("spec.template.metadata.") + f + ": must be a map"});
    for (auto it = m.begin(); it != m.end(); ++it) {
      if (!it.value().is_string()) {
        return unexpected(Error{std::string("spec.template.metadata.") + f + "." + it.key() +
                                ": must be a string"});
      }
    }
  }
  if (!t.contains("spec") || !t["spec"].is_object()) {
    return unexpected(Error{"spec.template.spec: missing or not an object"});
  }
  return {};
}

Result<void> ParseClaims(const Json& spec, ShardSet& s) {
  if (!spec.contains("volumeClaimTemplates") || spec["volumeClaimTemplates"].is_null()) return {};
  const Json& vcts = spec["volumeClaimTemplates"];
  if (!vcts.is_array()) return unexpected(Error{"spec.volumeClaimTemplates: must be a list"});
  for (size_t i = 0; i < vcts.size(); ++i) {
    std::string path = "spec.volumeClaimTemplates[" + std::to_string(i) + "]";
    if (!vcts[i].is_object()) return unexpected(Error{path + ": must be an object"});
    std::string claim = StringAt(vcts[i], "metadata", "name");
    if (!IsDns1123(claim, 63)) {
      return unexpected(
          Error{path + ".metadata.name: must be a DNS-1123 label, got " +
                Show(vcts[i].value("metadata", Json::object()).value("name", Json()))});
    }
    s.volume_claim_templates.push_back(vcts[i]);
  }
  return {};
}

Result<void> ParseCapacity(const Json& spec, ShardSet& s) {
  auto cap = Section(spec, "capacity", "spec.capacity");
  if (!cap) return unexpected(cap.error());
  const Json& c = **cap;
  std::string metric = "CPU";
  if (c.contains("metric") && !c["metric"].is_null()) {
    if (!c["metric"].is_string())
      return unexpected(Error{"spec.capacity.metric: must be CPU or RequestsPerSecond"});
    metric = c["metric"].get<std::string>();
  }
  const char* field = nullptr;
  if (metric == "CPU") {
    s.metric = CapacityMetric::kCpu;
    field = "cpuMillis";
    s.capacity = 1000;
  } else if (metric == "RequestsPerSecond") {
    s.metric = CapacityMetric::kRequestsPerSecond;
    field = "requestsPerSecond";
    s.capacity = 0;
  } else {
    return unexpected(
        Error{"spec.capacity.metric: must be CPU or RequestsPerSecond, got \"" + metric + "\""});
  }
  bool present = c.contains(field) && !c[field].is_null();
  if (present) {
    const Json& v = c[field];
    if (!v.is_number() || !std::isfinite(v.get<double>())) {
      return unexpected(
          Error{std::string("spec.capacity.") + field + ": must be a number > 0, got " + Show(v)});
    }
    s.capacity = v.get<double>();
  }
  if (!(s.capacity > 0)) {
    return unexpected(
        Error{std::string("spec.capacity.") + field + ": must be > 0" +
              (present ? "" : " (required when spec.capacity.metric is " + metric + ")")});
  }
  return {};
}

Result<void> ReadPath(const Json& obj, const char* key, const std::string& field,
                      std::string* out) {
  if (!obj.contains(key) || obj[key].is_null()) return {};
  const Json& v = obj[key];
  if (!v.is_string() || v.get<std::string>().empty() || v.get<std::string>()[0] != '/' ||
      v.get<std::string>().size() > 256) {
    return unexpected(Error{field + ": must be an absolute path like /metrics, got " + Show(v)});
  }
  *out = v.get<std::string>();
  return {};
}

Result<void> ParseEndpoints(const Json& spec, ShardSet& s) {
  auto met = Section(spec, "metrics", "spec.metrics");
  if (!met) return unexpected(met.error());
  if (auto r = ReadInt(**met, "port", "spec.metrics.port", 1, 65535, &s.metrics_port); !r) return r;
  if (auto r = ReadPath(**met, "path", "spec.metrics.path", &s.metrics_path); !r) return r;
  if (!spec.contains("hooks") || spec["hooks"].is_null()) return {};
  auto hooks = Section(spec, "hooks", "spec.hooks");
  if (!hooks) return unexpected(hooks.error());
  const Json& h = **hooks;
  HooksSpec& hs = s.hooks;
  hs.enabled = true;
  if (auto r = ReadInt(h, "port", "spec.hooks.port", 1, 65535, &hs.port); !r) return r;
  if (auto r =
          ReadInt(h, "timeoutSeconds", "spec.hooks.timeoutSeconds", 1, 3600, &hs.timeout_seconds);
      !r) {
    return r;
  }
  const std::pair<const char*, std::string*> paths[] = {
      {"preparePath", &hs.prepare_path},   {"copyPath", &hs.copy_path},
      {"progressPath", &hs.progress_path}, {"cutoverPath", &hs.cutover_path},
      {"releasePath", &hs.release_path},   {"abortPath", &hs.abort_path},
      {"echoAddPath", &hs.echo_add_path},  {"echoRemovePath", &hs.echo_remove_path}};
  for (const auto& [key, dst] : paths) {
    if (auto r = ReadPath(h, key, std::string("spec.hooks.") + key, dst); !r) return r;
  }
  return {};
}

Result<void> ParseRouters(const Json& spec, ShardSet& s) {
  if (!spec.contains("routers") || spec["routers"].is_null()) return {};
  auto routers = Section(spec, "routers", "spec.routers");
  if (!routers) return unexpected(routers.error());
  const Json& r = **routers;
  RoutersSpec& rs = s.routers;
  rs.enabled = true;
  if (!r.contains("selector") || !r["selector"].is_object()) {
    return unexpected(Error{"spec.routers.selector: must be a label selector object, got " +
                            Show(r.value("selector", Json()))});
  }
  auto sel = util::LabelSelector::Parse(r["selector"], "spec.routers.selector");
  if (!sel) return unexpected(sel.error());
  if (sel->empty()) {
    return unexpected(Error{
        "spec.routers.selector: must not be empty (it would select every pod of the namespace)"});
  }
  rs.selector = std::move(*sel);
  rs.selector_json = r["selector"];
  return ReadInt(r, "metricsPort", "spec.routers.metricsPort", 1, 65535, &rs.metrics_port);
}

Result<void> ParseReplicas(const Json& spec, ShardSet& s) {
  if (auto r = ReadInt(spec, "replicas", "spec.replicas", 0, 10000, &s.replicas); !r) return r;
  if (auto r = ReadInt(spec, "minReplicas", "spec.minReplicas", 0, 10000, &s.min_replicas); !r)
    return r;
  if (auto r = ReadInt(spec, "maxReplicas", "spec.maxReplicas", 1, 10000, &s.max_replicas); !r)
    return r;
  if (s.min_replicas > s.max_replicas) {
    return unexpected(Error{"spec.maxReplicas: must be at least spec.minReplicas (" +
                            std::to_string(s.min_replicas) + "), got " +
                            std::to_string(s.max_replicas)});
  }
  auto warm = Section(spec, "warmPool", "spec.warmPool");
  if (!warm) return unexpected(warm.error());
  return ReadInt(**warm, "size", "spec.warmPool.size", 0, 100, &s.warm_pool);
}

}  // namespace

const char* CapacityMetricName(CapacityMetric m) {
  return m == CapacityMetric::kCpu ? "CPU" : "RequestsPerSecond";
}

Result<ShardSet> ParseShardSet(const Json& obj, ShardSetUse use) {
  ShardSet s;
  if (!obj.is_object()) return unexpected(Error{"object: must be a JSON object"});
  if (!obj.contains("metadata") || !obj["metadata"].is_object())
    return unexpected(Error{"metadata: missing"});
  const Json& md = obj["metadata"];
  s.name = StringAt(md, "name");
  s.ns = StringAt(md, "namespace");
  s.uid = StringAt(md, "uid");
  if (s.name.empty()) return unexpected(Error{"metadata.name: missing"});
  if (md.contains("generation") && md["generation"].is_number_integer())
    s.generation = md["generation"].get<int64_t>();
  s.labels = util::LabelsOf(obj);
  if (!obj.contains("spec") || !obj["spec"].is_object())
    return unexpected(Error{"spec: missing or not an object"});
  const Json& spec = obj["spec"];
  for (auto step : {ParseReplicas, ParseKeySpace}) {
    if (auto r = step(spec, s); !r) return unexpected(r.error());
  }
  if (auto r = ParseRouting(spec, use, s); !r) return unexpected(r.error());
  if (auto r = ParseTemplate(spec, use, s); !r) return unexpected(r.error());
  for (auto step : {ParseClaims, ParseCapacity, ParseEndpoints, ParseRouters}) {
    if (auto r = step(spec, s); !r) return unexpected(r.error());
  }
  return s;
}

}  // namespace shardcast::api
