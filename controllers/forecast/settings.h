// What the forecast controller needs from a ShardSet and the
// MigrationPolicy selecting it (docs/design-contract.md). Pure: JSON in,
// settings out; bad fields are errors naming the field.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "operator/util/expected.h"
#include "predictor/forecaster.h"

namespace shardcast::forecast {

using Json = nlohmann::json;

enum class CapacityMetric { kCpu, kRequestsPerSecond };

struct SetSettings {
  std::string ns, name, uid;
  CapacityMetric metric = CapacityMetric::kCpu;
  double capacity = 1000;   // per pod, in units of the metric (millicores or req/s)
  int metrics_port = 9090;
  std::string metrics_path = "/metrics";
  std::string routing_configmap;  // spec.routing.configMapName ("" when unset)
};

struct PolicySettings {
  std::string policy;                  // "" when no policy selects the set
  int64_t step_seconds = 60;
  int64_t horizon_seconds = 1800;
  std::vector<int64_t> seasons_seconds{86400, 604800};  // "Auto": daily and weekly
  double max_utilization = 0.8;
  std::vector<predictor::LoadEvent> events;
};

[[nodiscard]] Result<SetSettings> ParseShardSet(const Json& obj);
[[nodiscard]] Result<PolicySettings> ParsePolicy(const Json& obj);

// Whether a metav1.LabelSelector (matchLabels + matchExpressions with In,
// NotIn, Exists, DoesNotExist) selects `labels`. A malformed selector
// selects nothing. An empty selector selects everything.
bool SelectorMatches(const Json& selector, const Json& labels);

// The policy selecting `set` among `policies` (same namespace): the oldest
// by creationTimestamp, then by name. nullptr when none.
const Json* SelectPolicy(const Json& set, const std::vector<const Json*>& policies);

}  // namespace shardcast::forecast
