// The forecast controller's writes of the routers' load factors.
#include <spdlog/spdlog.h>

#include "controllers/api/names.h"
#include "controllers/forecast/load_factors.h"
#include "controllers/forecast/reconciler.h"

namespace shardcast::forecast {

void ForecastReconciler::PublishLoads(Entry& e, const std::string& key, const Json& set_obj,
                                      const SetSettings& set,
                                      const std::vector<std::string>& active,
                                      const std::vector<PodForecast>& out) {
  if (set.routing_configmap.empty()) return;
  const std::string name = LoadsConfigMapName(set.routing_configmap);
  PodLoadFactors next = LoadFactorsOf(active, out, set.capacity);
  const auto now = deps_.clock->now();
  if (deps_.configmaps != nullptr) {
    kube::ObjectPtr cm = deps_.configmaps->get(set.ns + "/" + name);
    if (cm == nullptr && now >= e.loads_next_write) {
      e.loads_written.reset();  // gone (deleted by hand): written again
    } else if (cm != nullptr && !e.loads_written) {
      // After a restart: what the ConfigMap already holds counts as written.
      e.loads_written = LoadFactorsInConfigMap(*cm);
    }
  }
  if (e.loads_written && !LoadFactorsDiffer(*e.loads_written, next)) return;
  if (now < e.loads_next_write) return;
  if (deps_.may_write && !deps_.may_write()) return;
  Json cm = BuildLoadsConfigMap(set_obj, set.routing_configmap, next, UnixSeconds());
  auto r = deps_.client->apply(kube::resources::kConfigMaps, set.ns, cm,
                               std::string(api::kFieldManager) + "-forecast", /*force=*/true);
  if (!r) {
    if (r.error().kind != kube::ErrorKind::kNotFound) {
      spdlog::warn("forecast {}: writing ConfigMap {} failed: {}", key, name,
                   r.error().to_string());
    }
    return;
  }
  e.loads_written = std::move(next);
  e.loads_next_write = now + kLoadsMinInterval;
  ++stats_.loads_writes;
}

}  // namespace shardcast::forecast
