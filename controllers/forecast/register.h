// Wires the forecast controller into the Manager.
#pragma once

#include <memory>

namespace shardcast::manager {
class Manager;
}

namespace shardcast::forecast {
struct ControllerOptions;
class ForecastReconciler;
class HttpGetter;

// Registers the informers it needs (ShardSets, MigrationPolicies, Pods
// labelled shardcast.dev/shardset), the forecast metrics and the
// controller "forecast". `http` null = the real plain-HTTP getter. Returns
// the reconciler (owned by the Manager) for tests. Call before run().
ForecastReconciler* RegisterForecastController(manager::Manager& manager,
                                               const ControllerOptions& options,
                                               std::shared_ptr<HttpGetter> http = nullptr);
}  // namespace shardcast::forecast

namespace shardcast::controllers {
// With options from the environment (ControllerOptions::FromEnv); a bad
// variable is logged and the defaults are used.
void RegisterForecastController(manager::Manager& manager);
}  // namespace shardcast::controllers
