// Names of Shardcast's labels, annotations and keys (no Kubernetes types, so
// that the pure parsers of controllers/api can use them).
#pragma once

namespace shardcast::api {

inline constexpr const char* kLabelShardSet = "shardcast.dev/shardset";
inline constexpr const char* kLabelRole = "shardcast.dev/role";
inline constexpr const char* kRoleActive = "active";
inline constexpr const char* kRoleWarm = "warm";
inline constexpr const char* kAnnotationApprove = "shardcast.dev/approve";
inline constexpr const char* kAnnotationFencing = "shardcast.dev/fencing-token";
inline constexpr const char* kRoutingKey = "routing.json";
inline constexpr const char* kFieldManager = "shardcast-operator";

}  // namespace shardcast::api
