#include "controllers/forecast/settings.h"

#include <utility>

namespace shardcast::forecast {

SetSettings SettingsOf(const api::ShardSet& set) {
  SetSettings s;
  s.ns = set.ns;
  s.name = set.name;
  s.uid = set.uid;
  s.metric = set.metric;
  s.capacity = set.capacity;
  s.metrics_port = set.metrics_port;
  s.metrics_path = set.metrics_path;
  s.routing_configmap = set.config_map;
  s.routers = set.routers;
  s.hooks = set.hooks.enabled;
  s.hooks_port = set.hooks.port;
  return s;
}

PolicySettings SettingsOf(const api::MigrationPolicy& policy) {
  PolicySettings p;
  p.policy = policy.name;
  p.step_seconds = policy.step_seconds;
  p.horizon_seconds = policy.horizon_seconds;
  switch (policy.seasonality) {
    case api::Seasonality::kAuto:
      break;  // the default: daily and weekly
    case api::Seasonality::kManual:
      p.seasons_seconds = policy.seasonal_periods_seconds;
      break;
    case api::Seasonality::kNone:
      p.seasons_seconds.clear();
      break;
  }
  p.max_utilization = policy.max_utilization;
  for (const auto& e : policy.events) {
    // An event that names ranges multiplies only those ranges; the planner
    // applies it per range (plan_input.cc). Applying it to the whole pod's
    // forecast here as well would count it twice.
    if (!e.ranges.empty()) continue;
    predictor::LoadEvent le;
    le.name = e.name;
    le.start = e.start;
    le.duration = e.duration_seconds;
    le.multiplier = e.multiplier;
    p.events.push_back(le);
  }
  return p;
}

Result<SetSettings> ParseShardSet(const Json& obj) {
  auto set = api::ParseShardSet(obj, api::ShardSetUse::kLoad);
  if (!set) return unexpected(set.error());
  return SettingsOf(*set);
}

Result<PolicySettings> ParsePolicy(const Json& obj) {
  auto policy = api::ParseMigrationPolicy(obj);
  if (!policy) return unexpected(policy.error());
  return SettingsOf(*policy);
}

const Json* SelectPolicy(const Json& set, const std::vector<const Json*>& policies) {
  const util::Labels labels = util::LabelsOf(set);
  const Json* best = nullptr;
  std::pair<int64_t, std::string> best_key;
  for (const Json* p : policies) {
    if (p == nullptr || !p->is_object()) continue;
    auto selector = api::ShardSetSelectorOf(*p);
    if (!selector || !selector->Matches(labels)) continue;
    const Json md = p->value("metadata", Json::object());
    std::pair<int64_t, std::string> key{
        api::CreationTime(*p), md.is_object() ? md.value("name", std::string()) : std::string()};
    if (best == nullptr || key < best_key) {
      best = p;
      best_key = key;
    }
  }
  return best;
}

}  // namespace shardcast::forecast
