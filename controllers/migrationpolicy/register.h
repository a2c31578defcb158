// Wires the MigrationPolicy controller into the Manager.
#pragma once

namespace shardcast::manager {
class Manager;
}

namespace shardcast::controllers {

// Creates the reconciler, registers the informers (MigrationPolicies,
// ShardSets, and the Pods and ConfigMaps labelled shardcast.dev/shardset,
// shared with the ShardSet controller) and enqueues policies on every change.
// Call before Manager::run().
void RegisterMigrationPolicyController(manager::Manager& manager);

}  // namespace shardcast::controllers
