// Wires the ShardSet controller into the Manager.
#pragma once

#include <string>

#include "nlohmann/json.hpp"
#include "operator/util/expected.h"

namespace shardcast::manager {
class Manager;
}

namespace shardcast::shardset {

// Creates the reconciler, registers the informers (ShardSets; Pods and
// ConfigMaps selected by the label shardcast.dev/shardset) and enqueues the
// owning ShardSet on every change. Call before Manager::run().
[[nodiscard]] Result<void> RegisterShardSetController(manager::Manager& manager, int workers = 1);

}  // namespace shardcast::shardset
