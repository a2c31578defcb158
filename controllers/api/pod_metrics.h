// metrics.k8s.io PodMetrics (CPU and memory usage per pod), parsed once.
// Quantities go through util/quantity.h. Never throws.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace shardcast::api {

// Pod CPU (millicores) and memory (bytes) from one PodMetrics object,
// summed over its containers.
struct PodUsage {
  std::string pod;
  double cpu_millis = 0;
  double mem_bytes = 0;
  bool has_cpu = false, has_mem = false;
};

// Every item of a PodMetricsList. Containers with a garbage quantity are
// skipped and reported in `errors` (naming the field); items without a name
// are skipped.
std::vector<PodUsage> ParsePodMetricsList(const nlohmann::json& list,
                                          std::vector<std::string>* errors);
// One PodMetrics object (pod "" when it has no name).
PodUsage ParsePodMetrics(const nlohmann::json& item, std::vector<std::string>* errors);

}  // namespace shardcast::api
