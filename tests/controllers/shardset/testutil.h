// Fixtures shared by the ShardSet unit tests.
#pragma once

#include <string>

#include "controllers/shardset/shardset.h"

namespace shardcast::shardset::testing {

inline Json SetObject(int replicas = 3, int warm = 1, int ranges = 16) {
  return Json::parse(R"({
    "apiVersion": "shardcast.dev/v1alpha1", "kind": "ShardSet",
    "metadata": {"name": "kv", "namespace": "ns", "uid": "set-uid", "generation": 4},
    "spec": {
      "replicas": 3, "warmPool": {"size": 1}, "keySpace": {"ranges": 16,
        "hashing": {"algorithm": "ConsistentHash", "virtualNodes": 64, "loadFactor": 1.25}},
      "routing": {"configMapName": "kv-routing", "port": 8080},
      "template": {"metadata": {"labels": {"app": "kv"}, "annotations": {"a": "b"}},
                   "spec": {"containers": [{"name": "kv", "image": "example/kv:1.0"}]}}
    }})")
      .patch(
          Json::array({{{"op", "replace"}, {"path", "/spec/replicas"}, {"value", replicas}},
                       {{"op", "replace"}, {"path", "/spec/warmPool/size"}, {"value", warm}},
                       {{"op", "replace"}, {"path", "/spec/keySpace/ranges"}, {"value", ranges}}}));
}

inline ShardSetSpec Spec(int replicas = 3, int warm = 1, int ranges = 16) {
  auto s = ParseShardSet(SetObject(replicas, warm, ranges));
  return s.value();
}

inline ObservedPod Pod(long ordinal, const std::string& role, bool ready = true,
                       const std::string& phase = "Running") {
  ObservedPod p;
  p.name = "kv-" + std::to_string(ordinal);
  p.uid = "uid-" + std::to_string(ordinal);
  p.resource_version = "rv" + std::to_string(ordinal);
  p.role = role;
  p.phase = phase;
  p.ready = ready && phase == "Running";
  p.ip = "10.0.0." + std::to_string(ordinal + 1);
  p.ordinal = ordinal;
  return p;
}

}  // namespace shardcast::shardset::testing
