#include "controllers/forecast/load_factors.h"

#include <algorithm>
#include <cmath>

#include "controllers/forecast/persist.h"
#include "util/time.h"

namespace shardcast::forecast {

using Json = nlohmann::json;

std::string LoadsConfigMapName(const std::string& routing_configmap) {
  return routing_configmap + "-loads";
}

PodLoadFactors LoadFactorsOf(const std::vector<std::string>& pods,
                             const std::vector<PodForecast>& forecasts, double capacity) {
  PodLoadFactors out;
  for (const auto& pod : pods) out[pod] = 1.0;
  if (!(capacity > 0)) return out;
  for (const auto& f : forecasts) {
    auto it = out.find(f.pod);
    if (it == out.end() || !f.trusted || !std::isfinite(f.p90)) continue;
    it->second = std::clamp(f.p90 / capacity, kMinLoadFactor, kMaxLoadFactor);
  }
  return out;
}

bool LoadFactorsDiffer(const PodLoadFactors& a, const PodLoadFactors& b) {
  if (a.size() != b.size()) return true;
  for (auto ia = a.begin(), ib = b.begin(); ia != a.end(); ++ia, ++ib) {
    if (ia->first != ib->first || std::abs(ia->second - ib->second) > kLoadFactorStep) return true;
  }
  return false;
}

Json BuildLoadsConfigMap(const Json& shardset, const std::string& routing_configmap,
                         const PodLoadFactors& factors, int64_t now) {
  Json pods = Json::object();
  for (const auto& [pod, f] : factors) pods[pod] = std::round(f * 1000) / 1000;
  Json doc = {{"generatedAt", util::FormatRfc3339(now)}, {"pods", pods}};
  Json cm = ForecastConfigMap(shardset, LoadsConfigMapName(routing_configmap));
  cm["data"][kLoadsKey] = doc.dump();
  return cm;
}

std::optional<PodLoadFactors> LoadFactorsInConfigMap(const Json& cm) {
  const Json data = cm.value("data", Json::object());
  auto it = data.is_object() ? data.find(kLoadsKey) : data.end();
  if (it == data.end() || !it->is_string()) return std::nullopt;
  Json doc = Json::parse(it->get<std::string>(), nullptr, false);
  if (!doc.is_object() || !doc.contains("pods") || !doc["pods"].is_object()) return std::nullopt;
  PodLoadFactors out;
  for (const auto& [pod, v] : doc["pods"].items()) {
    if (!v.is_number()) return std::nullopt;
    out[pod] = v.get<double>();
  }
  return out;
}

}  // namespace shardcast::forecast
