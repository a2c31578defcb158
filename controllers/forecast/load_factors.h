// Per-pod load factors for the routers (docs/routing.md, "Load factors"):
// the trusted forecast's p90 / capacity, published in the ConfigMap
// `<spec.routing.configMapName>-loads` under `loads.json`. Pure builders;
// the reconciler writes the ConfigMap (reconciler_loads.cc).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "controllers/forecast/state.h"

namespace shardcast::forecast {

inline constexpr double kMinLoadFactor = 0.05;
inline constexpr double kMaxLoadFactor = 20;
// A factor that moved by more than this is worth a write.
inline constexpr double kLoadFactorStep = 0.05;
// At most one write of a ShardSet's load factors per this interval.
inline constexpr std::chrono::seconds kLoadsMinInterval{60};
inline constexpr const char* kLoadsKey = "loads.json";

using PodLoadFactors = std::map<std::string, double>;

// `<routing_configmap>-loads`.
std::string LoadsConfigMapName(const std::string& routing_configmap);

// One factor per pod of `pods`: p90 / capacity of its forecast when that is
// trusted, clamped to [kMinLoadFactor, kMaxLoadFactor]; 1 when the forecast
// is untrusted or absent (or capacity is not positive).
PodLoadFactors LoadFactorsOf(const std::vector<std::string>& pods,
                             const std::vector<PodForecast>& forecasts, double capacity);

// A pod added or removed, or a factor that moved by more than kLoadFactorStep.
bool LoadFactorsDiffer(const PodLoadFactors& a, const PodLoadFactors& b);

// The ConfigMap (name, namespace, the shardset label, an owner reference to
// the ShardSet) with data[loads.json] =
// {"generatedAt": <RFC 3339 of now>, "pods": {<pod>: <factor>, ...}}.
nlohmann::json BuildLoadsConfigMap(const nlohmann::json& shardset,
                                   const std::string& routing_configmap,
                                   const PodLoadFactors& factors, int64_t now);

// The factors a loads ConfigMap holds; nullopt when it holds none readable.
std::optional<PodLoadFactors> LoadFactorsInConfigMap(const nlohmann::json& cm);

}  // namespace shardcast::forecast
