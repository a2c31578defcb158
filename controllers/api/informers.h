// The informer options every controller registers with the manager, defined
// once: the manager refuses a second registration of a resource with other
// options (manager::Manager::informer), so the ShardSet, MigrationPolicy and
// forecast controllers share these.
#pragma once

#include "controllers/api/names.h"
#include "operator/kube/informer.h"

namespace shardcast::api {

// Pods of ShardSets (label shardcast.dev/shardset exists), pruned to the
// metadata and status the controllers read.
inline kube::InformerOptions PodInformerOptions() {
  kube::InformerOptions o;
  o.label_selector = kLabelShardSet;
  o.transform = kube::PrunePodForCache;
  o.list_prune = kube::PodCacheListPrune();
  return o;
}

// Routing ConfigMaps (and the forecast history ConfigMaps): same label.
inline kube::InformerOptions ConfigMapInformerOptions() {
  kube::InformerOptions o;
  o.label_selector = kLabelShardSet;
  return o;
}

}  // namespace shardcast::api
