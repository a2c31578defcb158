// metrics.k8s.io PodMetrics, parsed once for the forecast and MigrationPolicy
// controllers.
#include "controllers/api/pod_metrics.h"

#include "util/quantity.h"

namespace shardcast::api {

using Json = nlohmann::json;

namespace {

void Report(std::vector<std::string>* errors, const std::string& e) {
  if (errors != nullptr) errors->push_back(e);
}

// One usage quantity (cpu or memory) of a container, added to *sum.
bool AddQuantity(const Json& usage, const char* key, const std::string& f, bool cpu, double* sum,
                 std::vector<std::string>* errors) {
  if (!usage.contains(key)) return false;
  Result<double> v = unexpected(Error{f + key + ": not a string"});
  if (usage[key].is_string()) {
    const std::string& q = usage[key].get_ref<const std::string&>();
    v = cpu ? util::ParseCpuMillis(q, f + key) : util::ParseBytes(q, f + key);
  }
  if (!v) {
    Report(errors, v.error().message);
    return false;
  }
  *sum += *v;
  return true;
}

// The containers' usage of one item into `u`; false when the item is unusable.
bool ParseContainers(const Json& it, const std::string& where, PodUsage& u,
                     std::vector<std::string>* errors) {
  const Json cs = it.value("containers", Json::array());
  if (!cs.is_array()) {
    Report(errors, where + ".containers: not a list");
    return false;
  }
  for (size_t c = 0; c < cs.size(); ++c) {
    if (!cs[c].is_object()) continue;
    const Json usage = cs[c].value("usage", Json::object());
    if (!usage.is_object()) continue;
    std::string f = where + ".containers[" + std::to_string(c) + "].usage.";
    if (AddQuantity(usage, "cpu", f, true, &u.cpu_millis, errors)) u.has_cpu = true;
    if (AddQuantity(usage, "memory", f, false, &u.mem_bytes, errors)) u.has_mem = true;
  }
  return true;
}

std::string NameOf(const Json& it) {
  const Json md = it.value("metadata", Json::object());
  if (md.is_object() && md.contains("name") && md["name"].is_string())
    return md["name"].get<std::string>();
  return "";
}

}  // namespace

std::vector<PodUsage> ParsePodMetricsList(const Json& list, std::vector<std::string>* errors) {
  std::vector<PodUsage> out;
  if (!list.is_object() || !list.contains("items") || !list["items"].is_array()) {
    Report(errors, "PodMetricsList: missing items");
    return out;
  }
  const Json& items = list["items"];
  for (size_t i = 0; i < items.size(); ++i) {
    const Json& it = items[i];
    std::string where = "items[" + std::to_string(i) + "]";
    if (!it.is_object()) {
      Report(errors, where + ": not an object");
      continue;
    }
    PodUsage u;
    u.pod = NameOf(it);
    if (u.pod.empty()) {
      Report(errors, where + ".metadata.name: missing");
      continue;
    }
    if (ParseContainers(it, "PodMetrics " + u.pod, u, errors)) out.push_back(u);
  }
  return out;
}

PodUsage ParsePodMetrics(const Json& item, std::vector<std::string>* errors) {
  PodUsage u;
  if (!item.is_object()) {
    Report(errors, "PodMetrics: not an object");
    return u;
  }
  u.pod = NameOf(item);
  ParseContainers(item, "PodMetrics " + u.pod, u, errors);
  return u;
}

}  // namespace shardcast::api
