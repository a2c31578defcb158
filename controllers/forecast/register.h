// Wires the forecast controller into the Manager.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "util/expected.h"

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
// With the defaults changed by `shardcast run`'s --forecast-* flags
// ({name without dashes, value}, see ControllerOptions::Set); a bad flag is
// an error naming it and registers nothing.
[[nodiscard]] Result<void> RegisterForecastController(
    manager::Manager& manager, const std::vector<std::pair<std::string, std::string>>& flags);
}  // namespace shardcast::controllers
