// Shardcast's own API resources (see crds/ and docs/design-contract.md).
#pragma once

#include "controllers/api/names.h"
#include "operator/kube/client.h"

namespace shardcast::api {

inline const kube::Resource kShardSets{"shardcast.dev", "v1alpha1", "shardsets", "ShardSet", true};
inline const kube::Resource kMigrationPolicies{"shardcast.dev", "v1alpha1", "migrationpolicies",
                                               "MigrationPolicy", true};

}  // namespace shardcast::api
