// Wires the ShardSet controller into the Manager.
#pragma once

namespace shardcast::manager {
class Manager;
}

namespace shardcast::shardset {

// Creates the reconciler, registers the informers (ShardSets; Pods and
// ConfigMaps selected by the label shardcast.dev/shardset) and enqueues the
// owning ShardSet's key on every change. Call before Manager::run().
void RegisterShardSetController(manager::Manager& manager);

}  // namespace shardcast::shardset

namespace shardcast::controllers {
using shardset::RegisterShardSetController;
}  // namespace shardcast::controllers
