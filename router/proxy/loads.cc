#include "router/proxy/loads.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

namespace shardcast::router::proxy {

Result<LoadFactors> ParseLoadFactors(std::string_view text) {
  auto doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded()) return unexpected(Error{"loads.json: not valid JSON"});
  if (!doc.is_object()) return unexpected(Error{"loads.json: must be an object"});
  if (doc.contains("generatedAt") && !doc["generatedAt"].is_string()) {
    return unexpected(Error{"generatedAt: must be a string"});
  }
  auto pods = doc.find("pods");
  if (pods == doc.end()) return unexpected(Error{"pods: missing"});
  if (!pods->is_object()) return unexpected(Error{"pods: must be an object"});
  LoadFactors out;
  for (const auto& [pod, value] : pods->items()) {
    const std::string field = "pods[\"" + pod + "\"]";
    if (pod.empty()) return unexpected(Error{"pods: a pod name is empty"});
    if (!value.is_number()) return unexpected(Error{field + ": must be a number"});
    double f = value.get<double>();
    if (!std::isfinite(f) || f <= 0) {
      return unexpected(Error{field + ": must be a positive number"});
    }
    out[pod] = std::clamp(f, kMinLoadFactor, kMaxLoadFactor);
  }
  return out;
}

UpdateResult LoadFactorsHolder::Update(std::string_view text) {
  auto parsed = ParseLoadFactors(text);
  if (!parsed) return {UpdateOutcome::kRejectedInvalid, 0, parsed.error().message};
  std::lock_guard lock(mu_);
  if (version_.load() > 0 && *parsed == factors_) {
    return {UpdateOutcome::kIgnoredNotNewer, 0, "the factors in use"};
  }
  factors_ = std::move(*parsed);
  version_.fetch_add(1, std::memory_order_release);
  return {UpdateOutcome::kApplied, 0, ""};
}

LoadFactors LoadFactorsHolder::Get() const {
  std::lock_guard lock(mu_);
  return factors_;
}

}  // namespace shardcast::router::proxy
