// The typed ShardSet (crds/shardcast.dev_shardsets.yaml) and its one parser.
// Every controller and CLI verb reads a ShardSet through ParseShardSet; no
// other code reads spec fields out of JSON. The parser holds the defaults of
// the CRD and every validation; errors name the field
// ("spec.warmPool.size: must be an integer in 0..100, got \"two\"").
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "util/expected.h"
#include "util/label_selector.h"

namespace shardcast::api {

using Json = nlohmann::json;

enum class CapacityMetric { kCpu, kRequestsPerSecond };
const char* CapacityMetricName(CapacityMetric m);

// spec.hooks: the workload's HTTP hooks; `enabled` when the section is set.
struct HooksSpec {
  bool enabled = false;
  int port = 8081;
  int timeout_seconds = 30;
  std::string prepare_path = "/shardcast/prepare";
  std::string copy_path = "/shardcast/copy";
  std::string progress_path = "/shardcast/progress";
  std::string cutover_path = "/shardcast/cutover";
  std::string release_path = "/shardcast/release";
  std::string abort_path = "/shardcast/abort";
  std::string echo_add_path = "/shardcast/echo-add";
  std::string echo_remove_path = "/shardcast/echo-remove";
};

// spec.routers: the routers (shardcast-router) in front of the set, whose
// per-range telemetry (GET http://<pod>:<metricsPort>/metrics) the forecast
// controller sums over replicas; `enabled` when the section is set. Absent:
// per-range load comes from the workload's own counters (spec.metrics).
struct RoutersSpec {
  bool enabled = false;
  util::LabelSelector selector;  // spec.routers.selector (required, non-empty)
  Json selector_json = Json::object();
  int metrics_port = 9090;
};

struct ShardSet {
  // metadata
  std::string ns;
  std::string name;
  std::string uid;
  int64_t generation = 0;
  util::Labels labels;
  // spec
  int replicas = 3;
  int min_replicas = 1;
  int max_replicas = 10;
  int warm_pool = 1;
  int ranges = 256;
  int virtual_nodes = 64;
  double load_factor = 1.25;
  std::string config_map;  // spec.routing.configMapName ("" only when not required)
  int port = 8080;         // spec.routing.port
  // spec.capacity: what one pod carries, in units of `metric` (millicores
  // for CPU, requests/s for RequestsPerSecond).
  CapacityMetric metric = CapacityMetric::kCpu;
  double capacity = 1000;
  int metrics_port = 9090;
  std::string metrics_path = "/metrics";
  HooksSpec hooks;
  RoutersSpec routers;
  Json pod_template = Json::object();        // spec.template (metadata + spec)
  std::vector<Json> volume_claim_templates;  // spec.volumeClaimTemplates
};

// What the caller needs. kWorkload (the ShardSet controller, which builds pods
// and publishes routing) requires spec.routing.configMapName and
// spec.template.spec, as the CRD does; kLoad (forecast, MigrationPolicy,
// `shardcast plan`) validates them only when present.
enum class ShardSetUse { kWorkload, kLoad };

[[nodiscard]] Result<ShardSet> ParseShardSet(const Json& obj,
                                             ShardSetUse use = ShardSetUse::kWorkload);

}  // namespace shardcast::api
