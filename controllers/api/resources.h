// Shardcast's own API resources (see crds/ and docs/design-contract.md).
#pragma once

#include "operator/kube/client.h"

namespace shardcast::api {

inline const kube::Resource kShardSets{"shardcast.dev", "v1alpha1", "shardsets", "ShardSet", true};
inline const kube::Resource kMigrationPolicies{"shardcast.dev", "v1alpha1", "migrationpolicies",
                                               "MigrationPolicy", true};

inline constexpr const char* kLabelShardSet = "shardcast.dev/shardset";
inline constexpr const char* kLabelRole = "shardcast.dev/role";
inline constexpr const char* kRoleActive = "active";
inline constexpr const char* kRoleWarm = "warm";
inline constexpr const char* kAnnotationApprove = "shardcast.dev/approve";
inline constexpr const char* kAnnotationFencing = "shardcast.dev/fencing-token";
inline constexpr const char* kRoutingKey = "routing.json";
inline constexpr const char* kFieldManager = "shardcast-operator";

}  // namespace shardcast::api
